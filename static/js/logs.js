// Live log sections (templates/deployments/_log.html). The consumer behind the section's
// socket appends lines to #log-lines; this script
// - tells it, on every (re)connection, where the section is: the last sequence number it has
//   of each deployment (the larger of the server's cursor and the last line shown), the
//   filter, and the phase of the last line (deployment pages head each phase);
// - follows the end of the log, pauses when the reader scrolls up, and resumes with a button;
// - shows timestamps on demand (remembered in localStorage);
// - keeps at most MAX_LINES lines in the page (the download has them all).
(() => {
  const MAX_LINES = 20000;
  const NEAR_BOTTOM = 40;

  const viewOf = (element) => element && element.closest && element.closest("[data-log-view]");
  const linesOf = (view) => view.querySelector("[data-log-lines]");

  function resumeMessage(view) {
    const after = JSON.parse(view.dataset.cursor || "{}");
    let phase = "";
    for (const line of linesOf(view).querySelectorAll("[data-log-line]")) {
      const deployment = line.dataset.deployment;
      const sequence = Number(line.dataset.sequence);
      if (!(deployment in after) || sequence > after[deployment]) after[deployment] = sequence;
      phase = line.dataset.phase || "";
    }
    return JSON.stringify({
      type: "resume", after, q: view.dataset.q || "", stream: view.dataset.stream || "", phase,
    });
  }

  function atBottom(lines) {
    return lines.scrollHeight - lines.scrollTop - lines.clientHeight < NEAR_BOTTOM;
  }

  function followButton(view) {
    return view.querySelector("[data-log-follow]");
  }

  function scrollToEnd(view) {
    const lines = linesOf(view);
    view.following = true;
    lines.scrollTop = lines.scrollHeight;
    const button = followButton(view);
    if (button) {
      button.classList.add("hidden");
      button.dataset.newLines = "0";
      button.textContent = "Follow new lines";
    }
  }

  function trim(view) {
    const lines = linesOf(view);
    let extra = lines.querySelectorAll("[data-log-line]").length - MAX_LINES;
    while (extra > 0 && lines.firstElementChild) {
      if (lines.firstElementChild.hasAttribute("data-log-line")) extra -= 1;
      lines.firstElementChild.remove();
    }
  }

  function setUp(view) {
    if (view.dataset.logReady) return;
    view.dataset.logReady = "1";
    const lines = linesOf(view);
    view.following = true;
    view.lineCount = lines.querySelectorAll("[data-log-line]").length;
    lines.scrollTop = lines.scrollHeight;
    lines.addEventListener("scroll", () => {
      view.following = atBottom(lines);
      if (view.following) followButton(view).classList.add("hidden");
    });
    followButton(view).addEventListener("click", () => scrollToEnd(view));
    const stamps = view.querySelector("[data-log-timestamps]");
    const showStamps = (on) => {
      view.classList.toggle("show-timestamps", on);
      stamps.setAttribute("aria-pressed", String(on));
    };
    showStamps(localStorage.getItem("paas.logTimestamps") === "1");
    stamps.addEventListener("click", () => {
      const on = !view.classList.contains("show-timestamps");
      localStorage.setItem("paas.logTimestamps", on ? "1" : "0");
      showStamps(on);
    });
  }

  document.addEventListener("htmx:wsOpen", (event) => {
    const view = viewOf(event.target);
    if (view) {
      setUp(view);
      event.detail.socketWrapper.send(resumeMessage(view));
    }
  });

  document.addEventListener("htmx:wsAfterMessage", (event) => {
    const view = viewOf(event.target);
    if (!view) return;
    trim(view);
    const count = linesOf(view).querySelectorAll("[data-log-line]").length;
    const added = Math.max(count - (view.lineCount || 0), 0);
    view.lineCount = count;
    if (view.following) {
      scrollToEnd(view);
    } else if (added) {
      const button = followButton(view);
      const waiting = Number(button.dataset.newLines || "0") + added;
      button.dataset.newLines = String(waiting);
      button.textContent = `Follow · ${waiting} new line${waiting === 1 ? "" : "s"}`;
      button.classList.remove("hidden");
    }
  });

  // A section that a socket updates in parts (the deployments section) and whose forms
  // answer with the whole of it: while one of its requests is on its way, the socket's parts
  // wait for that answer (it is at least as fresh) rather than replacing the form that asked.
  document.addEventListener("htmx:oobBeforeSwap", (event) => {
    const section = event.target.closest && event.target.closest("[data-live-parts]");
    if (section && (section.classList.contains("htmx-request")
                    || section.querySelector(".htmx-request"))) {
      event.preventDefault();
    }
  });

  const setUpAll = () => document.querySelectorAll("[data-log-view]").forEach(setUp);
  document.addEventListener("DOMContentLoaded", setUpAll);
  document.addEventListener("htmx:afterSettle", setUpAll);
})();
