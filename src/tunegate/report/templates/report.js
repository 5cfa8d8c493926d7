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
  var state = { suite: 0, baseline: null, show: "all", model: "any", category: "", query: "", page: 0, open: null, sort: null, desc: false, cell: null };
  var matches = [];
  var box = $("case-detail");  // the open case's view: moved under its row

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

  function peopleSay(c) {  // the people's majority on a case: a model's name, "tie", or null
    var votes = (data.votes || {})[c[0]];
    if (!votes || !votes.length) { return null; }
    var n = {};
    votes.forEach(function (v) { n[v[1]] = (n[v[1]] || 0) + 1; });
    var top = Object.keys(n).sort(function (a, b) { return n[b] - n[a]; });
    return top.length > 1 && n[top[0]] === n[top[1]] ? null : top[0];
  }
  function judgeDisagrees(s, c) {  // a pairwise judge's outcome against the people's majority
    var people = peopleSay(c);
    if (people === null) { return false; }
    return ((s.judged || {})[c[0]] || []).some(function (j) {
      if (j[0] !== "pair" || j[2] !== state.baseline || j[5] === "error") { return false; }
      var said = j[5] === "win" ? s.candidate : j[5] === "loss" ? j[2] : "tie";
      return said !== people;
    });
  }

  function keep(s, c) {
    var cand = s.candidate === null ? null : c[4][s.models.indexOf(s.candidate)];
    var base = state.baseline === null ? null : c[4][s.models.indexOf(state.baseline)];
    var show = state.show;
    if (state.category && c[3] !== state.category) { return false; }
    if (show === "cell") {
      var o = c[4][s.models.indexOf(state.cell.model)];
      if (!o || c[2] !== state.cell.truth) { return false; }
      var p = state.cell.pred;
      if (p === "\u0000error" ? o[F.error] === null : p === "\u0000unparseable" ? !unparseable(s, o) : (o[F.error] !== null || o[F.prediction] !== p)) { return false; }
    } else if (show === "cand-wrong" || show === "base-wrong") {
      var who = show === "cand-wrong" ? cand : base;
      if (!who || who[F.correct]) { return false; }
    } else if (show === "judge-vs-people") {
      if (!judgeDisagrees(s, c)) { return false; }
    } else if (show === "disagree" || show === "fixed" || show === "broken") {
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
    if (s.candidate !== null) { option(sel, "cand-wrong", "candidate wrong"); }
    if (state.baseline !== null) { option(sel, "base-wrong", "baseline wrong"); }
    if (s.candidate !== null && state.baseline !== null && Object.keys(s.judged || {}).length && Object.keys(data.votes || {}).length) {
      option(sel, "judge-vs-people", "judge disagrees with people");
    }
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
    state.sort = null;
  }

  function refilter() {
    var s = suite();
    matches = s.cases.filter(function (c) { return keep(s, c); });
    applySort();
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
    var heads = ["case", "category", "input", "reference"].concat(s.models.map(function (m) {
      return m + (m === s.candidate ? " (candidate)" : "");
    }));
    heads.forEach(function (h, col) {
      var th = el("th");
      var b = el("button", h + (state.sort === col ? (state.desc ? " ▼" : " ▲") : ""), "sort");
      b.type = "button";
      b.setAttribute("data-col", String(col));
      b.addEventListener("click", function () { sortBy(col); });
      th.appendChild(b);
      if (state.sort === col) { th.setAttribute("aria-sort", state.desc ? "descending" : "ascending"); }
      hr.appendChild(th);
    });
    head.appendChild(hr);
    var body = table.tBodies[0];
    $("browser").appendChild(box);  // out of the rows before they go
    body.textContent = "";
    matches.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (c) {
      var tr = el("tr");
      tr.setAttribute("data-case-id", c[0]);
      if (state.open === c) { tr.className = "open"; }
      tr.appendChild(el("td", c[0], "mono"));
      tr.appendChild(el("td", c[3] || ""));
      tr.appendChild(el("td", clip(c[1], 140)));
      tr.appendChild(el("td", clip(c[2], 80)));
      c[4].forEach(function (o, i) {
        var td = el("td");
        if (!o) { td.textContent = "—"; } else {
          var mark = o[F.error] !== null ? el("span", "⚠ ", "err") : o[F.correct] ? el("span", "✓ ", "ok") : el("span", "✗ ", "bad");
          td.appendChild(mark);
          td.appendChild(document.createTextNode(o[F.error] !== null ? clip(o[F.error], 80) : clip(o[F.answer], 80)));
          var rep = (s.repeats || {})[s.models[i]];
          var got = rep ? rep.passed[c[0]] : undefined;
          if (rep) { td.appendChild(el("span", " · " + (got === null || got === undefined ? "?" : got) + "/" + rep.k + " pass", "ci")); }
        }
        tr.appendChild(td);
      });
      tr.tabIndex = 0;
      tr.addEventListener("click", function () { show(state.open === c ? null : c); });
      tr.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(c); }
      });
      body.appendChild(tr);
      if (state.open === c) {
        var row = el("tr", null, "detail-row");
        var cell = el("td");
        cell.colSpan = 4 + s.models.length;
        cell.appendChild(box);
        row.appendChild(cell);
        body.appendChild(row);
      }
    });
    detail();
  }

  function show(c) {  // open a case under its row (or close with null), link it in the URL
    state.open = c;
    if (c) {
      var at = matches.indexOf(c);
      if (at >= 0) { state.page = Math.floor(at / PAGE); }
    }
    render();
    var hash = c ? "#case=" + encodeURIComponent(suite().name) + "/" + encodeURIComponent(c[0]) : "#cases";
    if (location.hash !== hash) { history.replaceState(null, "", hash); }
    if (c) { $("case-detail").scrollIntoView({ block: "nearest" }); }
  }
  function sortKey(c, col) {  // by text; a model's column by its outcome (error, fail, pass)
    if (col < 4) { return c[col] === null || c[col] === undefined ? "" : String(c[col]).toLowerCase(); }
    var o = c[4][col - 4];
    return !o ? -1 : o[F.error] !== null ? 0 : o[F.correct] ? 2 : 1;
  }
  function sortBy(col) {
    state.desc = state.sort === col ? !state.desc : false;
    state.sort = col;
    applySort();
    state.page = 0;
    render();
  }
  function applySort() {
    if (state.sort === null) { return; }
    var col = state.sort, sign = state.desc ? -1 : 1;
    matches.sort(function (a, b) {
      var x = sortKey(a, col), y = sortKey(b, col);
      return x < y ? -sign : x > y ? sign : 0;
    });
  }
  function rows(format) {  // the filtered cases, every model's outcome, as CSV or JSONL text
    var s = suite();
    var out = matches.map(function (c) {
      var r = { suite: s.name, case_id: c[0], category: c[3], input: c[1], reference: c[2] };
      s.models.forEach(function (m, i) {
        var o = c[4][i];
        r[m + ".answer"] = o ? o[F.answer] : null;
        r[m + ".outcome"] = !o ? null : o[F.error] !== null ? "error" : unparseable(s, o) ? "unparseable" : o[F.correct] ? "pass" : "fail";
        r[m + ".error"] = o ? o[F.error] : null;
      });
      return r;
    });
    if (format === "jsonl") { return out.map(function (r) { return JSON.stringify(r); }).join("\n") + "\n"; }
    var cols = out.length ? Object.keys(out[0]) : ["suite", "case_id"];
    var cell = function (v) {
      v = v === null || v === undefined ? "" : String(v);
      if (/^[=+\-@\t\r]/.test(v)) { v = "'" + v; }  // no formula in a spreadsheet
      return /[",\n\r]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
    };
    return [cols.map(cell).join(",")].concat(out.map(function (r) {
      return cols.map(function (k) { return cell(r[k]); }).join(",");
    })).join("\r\n") + "\r\n";
  }
  function download(format) {
    var text = rows(format);
    var type = format === "csv" ? "text/csv" : "application/x-ndjson";
    var a = el("a");
    a.href = URL.createObjectURL(new Blob([text], { type: type + ";charset=utf-8" }));
    a.download = "cases-" + suite().name.replace(/[^\w.-]+/g, "_") + "." + format;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  }
  function pickCell(figure, id) {  // a confusion-matrix cell: list its cases
    var m = /-(\d+)-(\d+)$/.exec(id);
    var i = Number(figure.getAttribute("data-suite"));
    if (!m || !data.suites[i]) { return; }
    if (i !== state.suite) { state.suite = i; $("f-suite").value = String(i); fillControls(); }
    var s = suite(), r = Number(m[1]), col = Number(m[2]), n = s.labels.length;
    var pred = col < n ? s.labels[col] : col === n ? "\u0000unparseable" : "\u0000error";
    state.cell = { model: figure.getAttribute("data-model"), truth: s.labels[r], pred: pred };
    var sel = $("f-show");
    var old = sel.querySelector("option[value='cell']");
    if (old) { old.remove(); }
    var shown = col < n ? "predicted " + pred : col === n ? "unparseable" : "error";
    var o = el("option", state.cell.model + ": true " + state.cell.truth + ", " + shown);
    o.value = "cell";
    sel.insertBefore(o, sel.options[1] || null);
    sel.value = "cell";
    state.show = "cell";
    refilter();
    $("cases").scrollIntoView({ block: "start" });
  }
  function step(by) {  // the previous / next case among the filtered ones
    var at = matches.indexOf(state.open);
    if (at >= 0 && at + by >= 0 && at + by < matches.length) { show(matches[at + by]); }
  }
  function openHash() {  // #case=<suite>/<case id>: that case, its suite chosen, filters reset
    var m = /^#case=([^/]*)\/(.*)$/.exec(location.hash);
    if (!m) { return; }
    var name = decodeURIComponent(m[1]), id = decodeURIComponent(m[2]);
    var i = data.suites.findIndex(function (x) { return x.name === name; });
    if (i < 0) { return; }
    if (i !== state.suite) { state.suite = i; $("f-suite").value = String(i); fillControls(); refilter(); }
    var c = suite().cases.find(function (x) { return x[0] === id; });
    if (!c) { return; }
    if (matches.indexOf(c) < 0) {
      state.show = "all"; $("f-show").value = "all"; state.query = ""; $("f-search").value = "";
      state.category = ""; $("f-category").value = ""; refilter();
    }
    show(c);
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

  function shareText(rep, id) {  // "2 of 3 answers pass (66.7%)", or why there is no share
    var got = rep.passed[id];
    if (got === null || got === undefined) { return "an answer is missing: no share"; }
    return got + " of " + rep.k + " answers pass (" + (100 * got / rep.k).toFixed(1) + "%)";
  }
  function repeatsOf(rep, id) {  // a model asked each case k times: every answer in order
    var box = el("div", null, "repeats");
    box.appendChild(el("h4", "asked " + rep.k + " times: " + shareText(rep, id)));
    var outs = rep.outcomes[id] || [], said = rep.answers[id] || [];
    var list = el("ol");
    outs.forEach(function (o, j) {
      var li = el("li");
      li.appendChild(el("span", o === null ? "missing" : o ? "pass" : "fail", o === null ? "err" : o ? "ok" : "bad"));
      li.appendChild(document.createTextNode(" " + (said[j] === null || said[j] === undefined ? "(no answer: the request failed)" : clip(said[j], 400))));
      list.appendChild(li);
    });
    box.appendChild(list);
    return box;
  }

  function detail() {
    var box = $("case-detail");
    var c = state.open;
    box.textContent = "";
    box.hidden = !c;
    if (!c) { return; }
    var s = suite();
    var bar = el("div", null, "detail-bar");
    bar.appendChild(el("h3", "Case " + c[0] + (c[3] ? " · " + c[3] : "")));
    var at = matches.indexOf(c);
    [["d-prev", "‹ previous case", -1], ["d-next", "next case ›", 1]].forEach(function (b) {
      var btn = el("button", b[1]);
      btn.type = "button"; btn.id = b[0];
      btn.disabled = at + b[2] < 0 || at + b[2] >= matches.length;
      btn.addEventListener("click", function (e) { e.stopPropagation(); step(b[2]); });
      bar.appendChild(btn);
    });
    var link = el("a", "link to this case");
    link.href = "#case=" + encodeURIComponent(s.name) + "/" + encodeURIComponent(c[0]);
    bar.appendChild(link);
    var close = el("button", "close (Esc)");
    close.type = "button"; close.id = "d-close";
    close.addEventListener("click", function (e) { e.stopPropagation(); show(null); });
    bar.appendChild(close);
    box.appendChild(bar);
    var judged = (s.judged || {})[c[0]] || [];
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
      var later = [];  // beneath the answer: every repeat's answer, the prompt
      var how = (data.prompting || {})[m];
      var sent = (s.sent || {})[m];
      if (how || sent) {  // the prompt as sent (system, examples, this case's turn), else how it was made
        var d = el("details", null, "prompting");
        d.appendChild(el("summary", sent ? "prompt as sent" : "prompt"));
        if (sent) {
          var own = sent.turns[c[0]] || [{ role: "user", content: c[1] === null ? "(the input, not stored)" : c[1] }];
          sent.shared.concat(own).forEach(function (x, j) {
            var example = j < sent.shared.length && x.role !== "system";
            var turn = el("div", null, "turn");
            turn.setAttribute("data-role", x.role);
            turn.appendChild(el("h4", x.role + (example ? " (example)" : "")));
            turn.appendChild(el("pre", x.content));
            d.appendChild(turn);
          });
        } else if (how.system) { d.appendChild(el("h4", "system")); d.appendChild(el("pre", how.system)); }
        if (how && how.prompt) { d.appendChild(el("h4", "template")); d.appendChild(el("pre", how.prompt)); }
        if (how && how.shots) { d.appendChild(el("p", how.shots.k + " examples, drawn once with seed " + how.shots.seed + " and sent with every case")); }
        later.push(d);
      }
      var rep = (s.repeats || {})[m];
      if (rep) { later.unshift(repeatsOf(rep, c[0])); }
      var bad = unparseable(s, o);
      var status = o[F.error] !== null ? "error" : bad ? "unparseable" : o[F.correct] ? "pass" : "fail";
      k.appendChild(el("span", status, o[F.error] !== null || bad ? "err" : o[F.correct] ? "ok" : "bad"));
      k.appendChild(el("pre", o[F.answer] === null ? "(no answer)" : o[F.answer]));
      var names = Object.keys(o[F.scores]);
      var scores = names.map(function (n) { return n + " " + Number(o[F.scores][n]).toFixed(3); });
      var why = o[F.failed].map(function (label) {  // each failed scorer with its own numbers
        var part = String(o[F.detail] || "").split("; ").find(function (p) { return p.indexOf(label + ":") === 0; });
        var own = names.filter(function (n) { return n === label || n.indexOf(label) === 0; })
          .map(function (n) { return n + " " + Number(o[F.scores][n]).toFixed(3); });
        return (part || label + ": failed") + (own.length && !/\d/.test(part || "") ? " (" + own.join(", ") + ")" : "");
      });
      var rubric = judged.filter(function (j) { return j[0] === "rubric" && j[2] === m; }).map(function (j) {
        return j[6] ? j[1] + ": no verdict (" + j[6] + ")" :
          j[1] + ": verdict " + j[3] + " (score " + Number(j[4]).toFixed(3) + ")" + (j[5] ? " — " + j[5] : "");
      });
      k.appendChild(dl([
        ["parsed", classifies(s) ? (o[F.error] !== null ? null : bad ? "unparseable" + (o[F.detail] ? ": " + o[F.detail] : "") : o[F.prediction]) : null],
        ["error", o[F.error]],
        ["why it failed", why.join("\n")],
        ["rubric judge", rubric.join("\n")],
        ["scores", scores.join(", ")],
        ["latency", o[F.latency_ms] === null ? null : Number(o[F.latency_ms]).toFixed(1) + " ms"]
      ]));
      later.forEach(function (x) { k.appendChild(x); });
      side.appendChild(k);
    });
    judged.filter(function (j) { return j[0] === "pair"; }).forEach(function (j) {
      var k = el("div", null, "card judge-pair");
      k.setAttribute("data-judge", j[1]);
      k.appendChild(el("h4", "judge " + j[1] + ": " + s.candidate + " vs " + j[2] + " → " + j[5]));
      k.appendChild(dl([
        [s.candidate + " shown as A", (j[3] === null ? "no verdict" : "verdict " + j[3]) + (j[6] ? " — " + j[6] : "")],
        [j[2] + " shown as A", (j[4] === null ? "no verdict" : "verdict " + j[4]) + (j[7] ? " — " + j[7] : "")],
        ["judge errors", j[8].join("; ")]
      ]));
      side.appendChild(k);
    });
    var votes = (data.votes || {})[c[0]];
    if (votes && votes.length) {
      var v = el("div", null, "card votes");
      v.appendChild(el("h4", "people (study " + data.study + "): " + votes.length + " vote" + (votes.length === 1 ? "" : "s")));
      v.appendChild(dl(votes.map(function (x) { return [x[0], x[1]]; })));
      side.appendChild(v);
    }
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
    $("x-csv").addEventListener("click", function () { download("csv"); });
    $("x-jsonl").addEventListener("click", function () { download("jsonl"); });
    $("p-first").addEventListener("click", function () { state.page = 0; render(); });
    $("p-prev").addEventListener("click", function () { state.page -= 1; render(); });
    $("p-next").addEventListener("click", function () { state.page += 1; render(); });
    $("p-last").addEventListener("click", function () { state.page = 1e9; render(); });
    document.addEventListener("keydown", function (e) {
      if (!state.open || /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) { return; }
      if (e.key === "Escape") { show(null); }
      else if (e.key === "ArrowRight" || e.key === "j") { step(1); }
      else if (e.key === "ArrowLeft" || e.key === "k") { step(-1); }
    });
    window.addEventListener("hashchange", openHash);
    Array.prototype.forEach.call(document.querySelectorAll("figure.cm"), function (figure) {
      figure.addEventListener("click", function (e) {
        var g = e.target.closest ? e.target.closest("g[id^='cm-']") : null;
        if (g) { pickCell(figure, g.id); }
      });
    });
    $("browser").hidden = false;
    if (!data.suites.length) { return; }
    fillControls();
    refilter();
    openHash();
    document.body.setAttribute("data-ready", "1");
    document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  }
  init();
}());
