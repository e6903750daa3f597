// scim-sync admin page: copy buttons, live countdowns, confirmations. Works without it too.
"use strict";

function announce(text) {
  const live = document.getElementById("announce");
  if (live) { live.textContent = text; }
}

function human(seconds) {
  if (seconds <= 0) { return "expired"; }
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
  const m = Math.floor(seconds % 3600 / 60), s = Math.floor(seconds % 60);
  const two = (n) => String(n).padStart(2, "0");
  if (d) { return `${d}d ${two(h)}h`; }
  if (h) { return `${h}h ${two(m)}m ${two(s)}s`; }
  if (m) { return `${m}m ${two(s)}s`; }
  return `${s}s`;
}

function tick() {
  for (const el of document.querySelectorAll("[data-countdown]")) {
    const at = Date.parse(el.dataset.countdown);
    if (!Number.isNaN(at)) { el.textContent = human((at - Date.now()) / 1000); }
  }
}

async function copy(button) {
  const field = document.getElementById(button.dataset.copy);
  if (!field) { return; }
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch (_err) {
    document.execCommand("copy");  // plain http (no secure context) has no clipboard API
  }
  const label = button.textContent;
  button.textContent = "Copied";
  announce("Copied to the clipboard");
  setTimeout(() => { button.textContent = label; }, 2000);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) { return; }
  if (button.dataset.copy) { copy(button); }
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) { event.preventDefault(); }
});

document.addEventListener("DOMContentLoaded", () => { tick(); setInterval(tick, 1000); });
