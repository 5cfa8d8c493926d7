"use strict";
// tunegate report: the case browser. Reads the one JSON block, renders one page of rows at
// a time, and writes every value with textContent (never as HTML).
(function () {
  var PAGE = 50;
  var raw = document.getElementById("tg-data");
  if (!raw) { return; }
  var data = JSON.parse(raw.textContent);
  var F = {};
  data.fields.forEach(function (name, i) { F[name] = i; });
  var $ = function (id) { return document.getElementById(id); };
  var state = { suite: 0, baseline: null, show: "all", model: "any", category: "", query: "", page: 0, open: null };
  var matches = [];

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }
  function option(select, value, label) {
    var o = el("option", label);
    o.value = value;
    select.appendChild(o);
  }
  function clip(text, n) {
    if (text === null || text === undefined) { return ""; }
    text = String(text);
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }
  function suite() { return data.suites[state.suite]; }
  function classifies(s) { return s.picks_label === true; }
  function said(out) {  // what a model answered, as compared between models
    if (!out) { return null; }
    if (out[F.error] !== null) { return "\u0000error"; }
    return out[F.prediction] !== null ? out[F.prediction] : out[F.answer];
  }
  function unparseable(s, out) {
    return classifies(s) && !!out && out[F.error] === null && out[F.prediction] === null;
  }
  function outcomes(s, c) {  // the outcomes the model filter looks at
    if (state.model === "any") { return c[4]; }
    return [c[4][s.models.indexOf(state.model)]];
  }

  function keep(s, c) {
    var cand = s.candidate === null ? null : c[4][s.models.indexOf(s.candidate)];
    var base = state.baseline === null ? null : c[4][s.models.indexOf(state.baseline)];
    var show = state.show;
    if (state.category && c[3] !== state.category) { return false; }
    if (show === "disagree" || show === "fixed" || show === "broken") {
      if (!cand || !base) { return false; }
      if (show === "disagree" && said(cand) === said(base)) { return false; }
      if (show === "fixed" && !(cand[F.correct] && !base[F.correct])) { return false; }
      if (show === "broken" && !(!cand[F.correct] && base[F.correct])) { return false; }
    } else if (show === "errors") {
      if (!outcomes(s, c).some(function (o) { return o && o[F.error] !== null; })) { return false; }
    } else if (show === "unparseable") {
      if (!outcomes(s, c).some(function (o) { return unparseable(s, o); })) { return false; }
    } else if (show.indexOf("scorer:") === 0) {
      var label = show.slice(7);
      if (!outcomes(s, c).some(function (o) { return o && o[F.failed].indexOf(label) >= 0; })) { return false; }
    }
    if (state.query) {
      var words = state.query.toLowerCase().split(/\s+/).filter(Boolean);
      var hay = [c[0], c[1], c[2]];
      c[4].forEach(function (o) { if (o) { hay.push(o[F.answer], o[F.prediction], o[F.error]); } });
      var text = hay.filter(function (x) { return x !== null && x !== undefined; }).join("\n").toLowerCase();
      if (!words.every(function (w) { return text.indexOf(w) >= 0; })) { return false; }
    }
    return true;
  }

  function fillControls() {
    var s = suite();
    var sel = $("f-baseline");
    sel.textContent = "";
    s.models.forEach(function (m) { if (m !== s.candidate) { option(sel, m, m); } });
    state.baseline = sel.options.length ? sel.options[0].value : null;
    sel.disabled = !sel.options.length;
    sel = $("f-show");
    sel.textContent = "";
    option(sel, "all", "all cases");
    if (s.candidate !== null && state.baseline !== null) {
      option(sel, "disagree", "candidate and baseline disagree");
      option(sel, "fixed", "fixed (candidate right, baseline wrong)");
      option(sel, "broken", "broken (candidate wrong, baseline right)");
    }
    option(sel, "errors", "errors only");
    if (classifies(s)) { option(sel, "unparseable", "unparseable answers"); }
    s.scorers.forEach(function (label) { option(sel, "scorer:" + label, "failed " + label); });
    state.show = "all";
    sel = $("f-model");
    sel.textContent = "";
    option(sel, "any", "any model");
    s.models.forEach(function (m) { option(sel, m, m); });
    state.model = "any";
    sel = $("f-category");
    sel.textContent = "";
    option(sel, "", "all categories");
    s.categories.forEach(function (c) { option(sel, c, c); });
    sel.disabled = !s.categories.length;
    state.category = "";
  }

  function refilter() {
    var s = suite();
    matches = s.cases.filter(function (c) { return keep(s, c); });
    state.page = 0;
    state.open = null;
    render();
  }

  function render() {
    var s = suite();
    var pages = Math.max(1, Math.ceil(matches.length / PAGE));
    state.page = Math.min(Math.max(state.page, 0), pages - 1);
    $("p-info").textContent = "page " + (state.page + 1) + " of " + pages;
    $("p-count").textContent = matches.length + " of " + s.cases.length + " cases";
    $("p-first").disabled = $("p-prev").disabled = state.page === 0;
    $("p-next").disabled = $("p-last").disabled = state.page >= pages - 1;
    var table = $("case-table");
    var head = table.tHead;
    head.textContent = "";
    var hr = el("tr");
    ["case", "category", "input", "reference"].forEach(function (h) { hr.appendChild(el("th", h)); });
    s.models.forEach(function (m) { hr.appendChild(el("th", m + (m === s.candidate ? " (candidate)" : ""))); });
    head.appendChild(hr);
    var body = table.tBodies[0];
    body.textContent = "";
    matches.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (c) {
      var tr = el("tr");
      tr.setAttribute("data-case-id", c[0]);
      if (state.open === c) { tr.className = "open"; }
      tr.appendChild(el("td", c[0], "mono"));
      tr.appendChild(el("td", c[3] || ""));
      tr.appendChild(el("td", clip(c[1], 140)));
      tr.appendChild(el("td", clip(c[2], 80)));
      c[4].forEach(function (o) {
        var td = el("td");
        if (!o) { td.textContent = "—"; } else {
          var mark = o[F.error] !== null ? el("span", "⚠ ", "err") : o[F.correct] ? el("span", "✓ ", "ok") : el("span", "✗ ", "bad");
          td.appendChild(mark);
          td.appendChild(document.createTextNode(o[F.error] !== null ? clip(o[F.error], 80) : clip(o[F.answer], 80)));
        }
        tr.appendChild(td);
      });
      tr.tabIndex = 0;
      tr.addEventListener("click", function () { show(c); });
      tr.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(c); }
      });
      body.appendChild(tr);
    });
    detail();
  }

  function show(c) {  // open a case and bring its side-by-side view into sight
    state.open = c;
    render();
    $("case-detail").scrollIntoView({ block: "nearest" });
  }

  function dl(pairs) {
    var d = el("dl");
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") { return; }
      d.appendChild(el("dt", p[0]));
      d.appendChild(el("dd", p[1]));
    });
    return d;
  }

  function detail() {
    var box = $("case-detail");
    var c = state.open;
    box.textContent = "";
    box.hidden = !c;
    if (!c) { return; }
    var s = suite();
    box.appendChild(el("h3", "Case " + c[0] + (c[3] ? " · " + c[3] : "")));
    var side = el("div", null, "side");
    var card = el("div", null, "card");
    card.appendChild(el("h4", "input"));
    card.appendChild(el("pre", c[1] === null ? "(not stored)" : c[1]));
    card.appendChild(el("h4", "reference"));
    card.appendChild(el("pre", c[2]));
    side.appendChild(card);
    c[4].forEach(function (o, i) {
      var m = s.models[i];
      var k = el("div", null, "card");
      k.setAttribute("data-model", m);
      k.appendChild(el("h4", m + (m === s.candidate ? " (candidate)" : "")));
      if (!o) { k.appendChild(el("p", "no answer stored")); side.appendChild(k); return; }
      var status = o[F.error] !== null ? "error" : o[F.correct] ? "pass" : "fail";
      k.appendChild(el("span", status, o[F.error] !== null ? "err" : o[F.correct] ? "ok" : "bad"));
      k.appendChild(el("pre", o[F.answer] === null ? "(no answer)" : o[F.answer]));
      var scores = Object.keys(o[F.scores]).map(function (n) { return n + " " + Number(o[F.scores][n]).toFixed(3); });
      k.appendChild(dl([
        ["parsed", o[F.prediction]],
        ["error", o[F.error]],
        ["failed", o[F.detail]],
        ["scores", scores.join(", ")],
        ["latency", o[F.latency_ms] === null ? null : Number(o[F.latency_ms]).toFixed(1) + " ms"]
      ]));
      side.appendChild(k);
    });
    box.appendChild(side);
  }

  function init() {
    var sel = $("f-suite");
    data.suites.forEach(function (s, i) { option(sel, String(i), s.name + " (" + s.cases.length + ")"); });
    sel.addEventListener("change", function () { state.suite = Number(sel.value); fillControls(); refilter(); });
    $("f-baseline").addEventListener("change", function () { state.baseline = $("f-baseline").value; refilter(); });
    $("f-show").addEventListener("change", function () { state.show = $("f-show").value; refilter(); });
    $("f-model").addEventListener("change", function () { state.model = $("f-model").value; refilter(); });
    $("f-category").addEventListener("change", function () { state.category = $("f-category").value; refilter(); });
    var timer = null;
    $("f-search").addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { state.query = $("f-search").value.trim(); refilter(); }, 120);
    });
    $("p-first").addEventListener("click", function () { state.page = 0; render(); });
    $("p-prev").addEventListener("click", function () { state.page -= 1; render(); });
    $("p-next").addEventListener("click", function () { state.page += 1; render(); });
    $("p-last").addEventListener("click", function () { state.page = 1e9; render(); });
    $("browser").hidden = false;
    if (!data.suites.length) { return; }
    fillControls();
    refilter();
    document.body.setAttribute("data-ready", "1");
    document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  }
  init();
}());
