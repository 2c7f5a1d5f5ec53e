// A form with data-confirm="question" asks before it is sent: the panel's
// Content-Security-Policy runs no inline handler such as onsubmit="return confirm(...)".
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
