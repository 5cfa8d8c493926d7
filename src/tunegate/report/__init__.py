"""Renderers: they receive finished results and never compute metrics."""
