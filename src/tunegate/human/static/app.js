// Annotation page: save each click at once; keyboard 1 / 2 / 0 vote on the active row,
// n / p move between items. No model names and no other annotator's votes reach this page.
(function () {
  "use strict";
  const root = document.getElementById("item");
  if (!root) return;
  const item = Number(root.dataset.item);
  const rows = Array.from(document.querySelectorAll(".criterion"));
  const status = document.getElementById("status");
  const progress = document.getElementById("progress");
  let pending = Promise.resolve();
  let active = rows.findIndex((r) => !r.querySelector('[aria-pressed="true"]'));
  if (active < 0) active = rows.length - 1;

  function setActive(i) {
    active = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, j) => r.classList.toggle("active", j === active));
  }

  function post(path, body) {
    return fetch(root.dataset.base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then((r) => {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function show(text, error) {
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  function vote(row, choice) {
    const criterion = row.dataset.criterion;
    show("saving…");
    pending = pending.then(() =>
      post("/vote", { item: item, criterion: criterion, choice: choice }).then(
        (res) => {
          row.querySelectorAll("button").forEach((b) => {
            b.setAttribute("aria-pressed", b.dataset.choice === choice ? "true" : "false");
          });
          progress.textContent = res.done + " of " + res.total + " done";
          show("saved");
        },
        (err) => show("not saved (" + err.message + "), try again", true)
      )
    );
    return pending;
  }

  rows.forEach((row, i) => {
    row.querySelectorAll("button").forEach((b) => {
      b.addEventListener("click", () => {
        setActive(i);
        vote(row, b.dataset.choice);
      });
    });
  });

  const comment = document.getElementById("comment");
  comment.addEventListener("change", () => {
    show("saving…");
    pending = pending.then(() =>
      post("/comment", { item: item, comment: comment.value }).then(
        () => show("saved"),
        (err) => show("comment not saved (" + err.message + ")", true)
      )
    );
  });

  function go(url) {
    if (url) pending.then(() => { window.location.href = url; });
  }

  document.addEventListener("keydown", (ev) => {
    const tag = (ev.target && ev.target.tagName) || "";
    if (tag === "TEXTAREA" || tag === "INPUT" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const choice = { "1": "left", "2": "right", "0": "tie" }[ev.key];
    if (choice) {
      ev.preventDefault();
      const row = rows[active];
      vote(row, choice);
      setActive(active + 1);
    } else if (ev.key === "n") {
      go(root.dataset.next);
    } else if (ev.key === "p") {
      go(root.dataset.prev);
    } else if (ev.key === "ArrowDown") {
      setActive(active + 1);
    } else if (ev.key === "ArrowUp") {
      setActive(active - 1);
    }
  });

  setActive(active);
  show("ready");
})();
