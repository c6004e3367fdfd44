// A running job's page: its progress polled until it ends, then the page
// reloaded to show the result. A file of its own, not inline: the site's
// Content-Security-Policy allows scripts from the site only.
(function () {
  const bar = document.getElementById("bar");
  if (!bar) return;
  const count = document.getElementById("count");
  const state = document.getElementById("state");
  const note = document.getElementById("note");  // "trying again in 20 s" and the like
  (function poll() {
    fetch(bar.dataset.status).then(r => r.json()).then(s => {
      if (s.state === "done" || s.state === "failed") { location.reload(); return; }
      bar.max = s.total || 1; bar.value = s.done;
      count.textContent = s.done + " of " + (s.total || "?");
      state.textContent = s.state; note.textContent = s.message;
      setTimeout(poll, 500);
    }).catch(() => setTimeout(poll, 2000));
  })();
})();
