// The sync page without reloads: start a sync in the background (the form's data-start-url,
// a JSON view), poll its progress, then show the result. Without JavaScript the form posts to
// the page itself and the sync runs in the request.
"use strict";
(function () {
  const form = document.getElementById("start-sync-form");
  const panel = document.getElementById("sync-progress");
  if (!form || !panel) {
    return;
  }
  const bar = panel.querySelector("progress");
  const text = document.getElementById("sync-progress-text");
  const notice = document.getElementById("sync-notice");
  const resultContainer = document.getElementById("sync-result-container");
  const button = document.getElementById("start-sync");
  const canStart = form.dataset.canStart === "true";
  const POLL_INTERVAL_MS = 600;

  function showNotice(message, level) {
    notice.replaceChildren();
    notice.hidden = !message;
    if (message) {
      const list = document.createElement("ul");
      list.className = "messagelist vs-inline-messages";
      const item = document.createElement("li");
      item.className = level;
      item.textContent = message;
      list.append(item);
      notice.append(list);
    }
  }

  function setBusy(busy) {
    if (button) {
      button.disabled = busy || !canStart;
      button.value = busy ? "Sync running…" : "Start sync";
    }
  }

  function renderProgress(run) {
    panel.hidden = false;
    const total = run.weeks_total || 0;
    bar.max = Math.max(total, 1);
    bar.value = Math.min(run.weeks_done, bar.max);
    const percent = total ? Math.round((100 * run.weeks_done) / total) : 0;
    text.textContent =
      `Sync #${run.id}${run.dry_run ? " (dry run)" : ""}: ${run.phase || "Starting"} — ` +
      `${run.weeks_done} of ${total} weeks (${percent}%)`;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function getJson(url) {
    const response = await fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({}));
    return { response, data };
  }

  // Status and history on the page are server-rendered; fetch the page again and swap them.
  async function refreshSections() {
    const response = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!response.ok) {
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of ["sync-status", "recent-syncs", "sync-running-note"]) {
      const fresh = page.getElementById(id);
      const current = document.getElementById(id);
      if (fresh && current) {
        current.replaceWith(fresh);
      }
    }
  }

  async function follow(progressUrl) {
    setBusy(true);
    for (;;) {
      let answer;
      try {
        answer = await getJson(progressUrl);
      } catch (error) {
        showNotice(`Lost contact with the server (${error.message}); retrying…`, "warning");
        await sleep(POLL_INTERVAL_MS * 5);
        continue;
      }
      const { response, data } = answer;
      if (!response.ok) {
        showNotice(data.error || `The server answered ${response.status}.`, "error");
        setBusy(false);
        return;
      }
      renderProgress(data);
      if (data.status !== "running") {
        text.textContent = `Sync #${data.id} ${data.status_display.toLowerCase()}.`;
        resultContainer.innerHTML = data.result_html || "";
        panel.hidden = true;
        showNotice("", "");
        await refreshSections();
        setBusy(false);
        return;
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setBusy(true);
    showNotice("", "");
    let response;
    try {
      response = await fetch(form.dataset.startUrl, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
        credentials: "same-origin",
      });
    } catch (error) {
      showNotice(`Could not reach the server (${error.message}). Try again.`, "error");
      setBusy(false);
      return;
    }
    const data = await response.json().catch(() => ({ error: `The server answered ${response.status}.` }));
    if (response.status === 202) {
      renderProgress(data);
      follow(data.progress_url);
    } else if (response.status === 409) {
      showNotice(data.error, "warning");
      if (data.running) {
        follow(data.running.progress_url);
      } else {
        setBusy(false);
      }
    } else {
      const details = Object.values(data.errors || {})
        .flat()
        .map((item) => item.message)
        .join(" ");
      showNotice(`${data.error || "The sync could not start."} ${details}`.trim(), "error");
      setBusy(false);
    }
  });

  if (panel.dataset.progressUrl) {
    follow(panel.dataset.progressUrl);
  }
})();
