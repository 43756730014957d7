// docmgmt pages: the little the pages need from a script. Everything works without it;
// with it, a long upload shows its progress.
"use strict";

// <form data-progress>: send with XMLHttpRequest so that a <progress> shows the upload.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-progress")) return;
  const bar = form.querySelector("progress");
  if (!bar || typeof XMLHttpRequest === "undefined") return;
  event.preventDefault();
  const request = new XMLHttpRequest();
  request.open(form.method || "post", form.action);
  bar.hidden = false;
  bar.value = 0;
  request.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
  });
  request.addEventListener("load", () => {
    if (request.responseURL && request.responseURL !== form.action && request.status < 400) {
      window.location.assign(request.responseURL);
      return;
    }
    // The form again, with its errors next to the fields: show the server's page.
    const page = new DOMParser().parseFromString(request.responseText, "text/html");
    document.replaceChild(document.adoptNode(page.documentElement), document.documentElement);
  });
  request.addEventListener("error", () => { bar.hidden = true; form.submit(); });
  form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; });
  request.send(new FormData(form));
});

// <button data-confirm="...">: ask before an irreversible step.
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-confirm]") : null;
  if (button && !window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
});
