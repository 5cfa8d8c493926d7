// Annotation page: save each click at once; keyboard 1 / 2 / 0 / b / s vote on the active
// row, n / p move between items. A save that fails shows a banner with a retry; the choice
// and the highlighted row stay where they were, and leaving the page waits for a good save.
// No model names and no other annotator's votes reach this page.
(function () {
  "use strict";
  const root = document.getElementById("item");
  if (!root) return;
  const item = Number(root.dataset.item);
  const opened = performance.now();
  const rows = Array.from(document.querySelectorAll(".criterion"));
  const status = document.getElementById("status");
  const progress = document.getElementById("progress");
  const banner = document.getElementById("banner");
  const bannerText = document.getElementById("banner-text");
  const retryButton = document.getElementById("retry");
  let pending = Promise.resolve();
  let failed = null; // the save to retry, while the last one failed
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
      if (!r.ok) throw new Error("the server answered " + r.status);
      return r.json();
    });
  }

  function show(text, error) {
    status.textContent = text;
    status.classList.toggle("error", !!error);
  }

  function fail(err, again) {
    failed = again;
    show("not saved", true);
    bannerText.textContent = "(" + (err && err.message ? err.message : "no answer") + ")";
    banner.hidden = false;
    retryButton.focus();
  }

  function saved() {
    failed = null;
    banner.hidden = true;
    show("saved");
  }

  // Saves one choice; resolves to true when stored. The buttons change only then.
  function vote(row, choice) {
    const criterion = row.dataset.criterion;
    const seconds = Math.round((performance.now() - opened) / 100) / 10;
    show("saving…");
    pending = pending.then(() =>
      post("/vote", { item: item, criterion: criterion, choice: choice, seconds: seconds }).then(
        (res) => {
          row.querySelectorAll("button").forEach((b) => {
            b.setAttribute("aria-pressed", b.dataset.choice === choice ? "true" : "false");
          });
          progress.textContent = res.done + " of " + res.total + " done";
          saved();
          return true;
        },
        (err) => {
          fail(err, () => vote(row, choice));
          return false;
        }
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
  function saveComment() {
    show("saving…");
    pending = pending.then(() =>
      post("/comment", { item: item, comment: comment.value }).then(
        () => {
          saved();
          return true;
        },
        (err) => {
          fail(err, saveComment);
          return false;
        }
      )
    );
    return pending;
  }
  comment.addEventListener("change", saveComment);

  retryButton.addEventListener("click", () => {
    if (failed) failed();
  });

  // Leave the page only when everything is saved; otherwise the banner says why not.
  function go(url) {
    if (!url) return;
    pending.then(() => {
      if (failed) {
        banner.hidden = false;
        retryButton.focus();
      } else {
        window.location.href = url;
      }
    });
  }
  document.querySelectorAll("nav a").forEach((a) => {
    a.addEventListener("click", (ev) => {
      ev.preventDefault();
      go(a.getAttribute("href"));
    });
  });

  const keys = { "1": "left", "2": "right", "0": "tie", b: "both_bad", s: "skip" };
  document.addEventListener("keydown", (ev) => {
    const tag = (ev.target && ev.target.tagName) || "";
    if (tag === "TEXTAREA" || tag === "INPUT" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const choice = keys[ev.key];
    if (choice) {
      ev.preventDefault();
      // The highlight moves on at once (quick typing), and back if the save fails.
      const at = active;
      setActive(at + 1);
      vote(rows[at], choice).then((ok) => {
        if (!ok) setActive(at);
      });
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
