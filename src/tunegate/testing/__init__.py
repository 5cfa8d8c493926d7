"""Helpers for testing and benchmarking tunegate: real loopback model servers.

Not imported by tunegate itself (it needs FastAPI and uvicorn, which the library
imports only for the annotation app).
"""
