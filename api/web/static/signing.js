// docmgmt pages: the leader's signature through the signing agent on their own computer
// (`docmgmt agent`, 127.0.0.1). The page asks the agent for the token's certificates, opens
// the request on the server, has the agent sign the digest(s) (the leader types the PIN in
// the agent's own window, never here), then posts the signature values to the server.
// Loaded only by the pages that sign; everything else on them works without it.
"use strict";

(() => {
  const messages = {};
  document.querySelectorAll("#signing-messages [data-key]").forEach((item) => {
    messages[item.getAttribute("data-key")] = item.textContent.trim();
  });
  const POLL_MS = 800;
  const WAIT_MS = 10 * 60 * 1000;
  const AGENT_TIMEOUT_MS = 15 * 1000;

  class Refusal extends Error {
    constructor(key, detail) {
      super(key);
      this.key = key;
      this.detail = detail || "";
    }
  }

  const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  function bytes(base64) {
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }

  async function fingerprint(base64) {
    const digest = await crypto.subtle.digest("SHA-256", bytes(base64));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function csrfOf(root) {
    const input = root.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  // A POST to one of our pages that answers JSON (the form's CSRF token in a header).
  async function post(root, url, fields) {
    const body = new URLSearchParams();
    fields.forEach(([name, value]) => body.append(name, value));
    let response;
    try {
      response = await fetch(url, {
        method: "POST", body, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": csrfOf(root) },
      });
    } catch (error) {
      throw new Refusal("server", String(error));
    }
    let answer = {};
    try { answer = await response.json(); } catch (error) { answer = {}; }
    if (!response.ok) throw new Refusal("server", answer.message || response.statusText, answer);
    return answer;
  }

  // One signing surface (a form or a section) and its agent box.
  class Agent {
    constructor(root) {
      this.root = root;
      this.base = (root.getAttribute("data-agent-url") || "").replace(/\/$/, "");
      this.registered = new Set((root.getAttribute("data-registered") || "").split(/\s+/)
        .filter(Boolean));
      this.box = root.querySelector("[data-agent-box]");
      this.select = root.querySelector("[data-agent-certificates]");
      this.status = root.querySelector("[data-agent-status]");
      this.confirm = root.querySelector("[data-agent-confirm]");
      this.link = root.querySelector("[data-agent-confirm-link]");
      this.certificates = new Map();
      this.loaded = null;
    }

    say(key, extra) {
      const text = messages[key] || key;
      this.status.textContent = extra ? `${text} ${extra}` : text;
      this.status.classList.toggle("error", !["loading", "preparing", "confirm", "sending"]
        .includes(key));
    }

    async call(path, options) {
      let response;
      // Something else listening on the agent's port may never answer: give up then.
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), AGENT_TIMEOUT_MS);
      try {
        response = await fetch(this.base + path, Object.assign({
          mode: "cors", credentials: "omit", cache: "no-store", signal: abort.signal,
        }, options || {}));
      } catch (error) {
        throw new Refusal("agent_down");
      } finally {
        clearTimeout(timer);
      }
      let answer = {};
      try { answer = await response.json(); } catch (error) { answer = {}; }
      if (!response.ok) {
        throw new Refusal(answer.error === "token_absent" ? "token_absent" : "failed",
          answer.detail);
      }
      return answer;
    }

    // The token's certificates; those registered to the reader (or, to register, those
    // not yet registered) can be chosen.
    load(toRegister) {
      if (!this.loaded) {
        this.loaded = (async () => {
          this.say("loading");
          const answer = await this.call("/v1/certificates");
          this.select.replaceChildren();
          let usable = 0;
          for (const found of answer.certificates || []) {
            const print = await fingerprint(found.certificate);
            const known = this.registered.has(print);
            const option = document.createElement("option");
            option.value = found.id;
            option.textContent = found.label + (known || toRegister ? ""
              : ` — ${messages.not_registered}`);
            option.disabled = toRegister ? known : !known;
            if (!option.disabled) usable += 1;
            this.certificates.set(found.id, Object.assign({ fingerprint: print }, found));
            this.select.append(option);
          }
          this.select.disabled = false;
          const first = Array.from(this.select.options).find((o) => !o.disabled);
          if (first) first.selected = true;
          if (!usable) throw new Refusal("no_certificate");
          this.status.textContent = "";
        })();
        this.loaded.catch(() => { this.loaded = null; });
      }
      return this.loaded;
    }

    chosen() {
      const option = this.select.selectedOptions[0];
      if (!option || option.disabled) throw new Refusal("choose_certificate");
      return this.certificates.get(option.value);
    }

    // One agent job for every item (one PIN entry); the signatures by item id.
    async sign(certificate, items) {
      const job = await this.call("/v1/sign", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ certificate_id: certificate.id, items }),
      });
      const lang = document.documentElement.lang || "vi";
      const url = `${job.confirm_url}?lang=${encodeURIComponent(lang)}`;
      this.link.href = url;
      this.confirm.hidden = false;
      this.say("confirm");
      window.open(url, "docmgmt-agent");
      const until = Date.now() + WAIT_MS;
      while (Date.now() < until) {
        await sleep(POLL_MS);
        const state = await this.call(`/v1/sign/${encodeURIComponent(job.job_id)}`);
        if (state.status === "pending") continue;
        this.confirm.hidden = true;
        if (state.status === "signed") {
          return new Map((state.signatures || []).map((s) => [s.id, s.signature]));
        }
        if (state.status === "refused") throw new Refusal("refused");
        throw new Refusal(state.error === "expired" ? "expired" : "failed", state.error);
      }
      throw new Refusal("expired");
    }

    fail(error) {
      this.confirm.hidden = true;
      if (error instanceof Refusal) {
        this.say(error.key, error.key === "server" ? error.detail : "");
      } else {
        this.say("failed", String(error));
      }
    }
  }

  function chosenMethod(form) {
    const checked = form.querySelector("input[name=method]:checked");
    return checked ? checked.value : "";
  }

  function enableScripted(root) {
    root.querySelectorAll("[data-needs-script]").forEach((element) => {
      element.disabled = false;
    });
  }

  // Show the agent's box while "agent" is chosen, and read the token then.
  function followMethod(form, agent) {
    const update = () => {
      const wanted = chosenMethod(form) === "agent";
      agent.box.hidden = !wanted;
      if (wanted) agent.load(false).catch((error) => agent.fail(error));
    };
    form.addEventListener("change", (event) => {
      if (event.target instanceof HTMLInputElement && event.target.name === "method") update();
    });
    update();
  }

  function setField(form, name, value) {
    const input = form.querySelector(`input[name=${name}]`);
    if (input) input.value = value;
  }

  function busy(form, on) {
    form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = on; });
  }

  // --- one document ------------------------------------------------------------------------
  function documentForm(form) {
    const agent = new Agent(form);
    const page = form.getAttribute("data-document-url");
    enableScripted(form);
    followMethod(form, agent);
    form.addEventListener("submit", async (event) => {
      if (chosenMethod(form) !== "agent" || event.defaultPrevented) return;
      event.preventDefault();
      busy(form, true);
      let request = null;
      try {
        await agent.load(false);
        const certificate = agent.chosen();
        setField(form, "certificate_fingerprint", certificate.fingerprint);
        agent.say("preparing");
        request = await post(form, form.action, Array.from(new FormData(form).entries()));
        setField(form, "expected_version", request.version);
        const signatures = await agent.sign(certificate, [{
          id: request.request_id, digest: request.digest,
          label: form.getAttribute("data-label") || request.request_id,
        }]);
        agent.say("sending");
        const done = await post(form, `${page}/signature-requests/${request.request_id}/signature`,
          [["signature", signatures.get(request.request_id) || ""]]);
        window.location.assign(done.status === "signed" ? `${page}?notice=signed`
          : `${page}?request=${request.request_id}`);
      } catch (error) {
        agent.fail(error);
        if (request && error instanceof Refusal && error.key !== "server") {
          // Nothing came back from the token: withdraw the request, keep the form usable.
          try {
            const cancelled = await post(form,
              `${page}/signature-requests/${request.request_id}/cancel`, []);
            setField(form, "expected_version", cancelled.version);
          } catch (ignored) { /* the next request supersedes it */ }
        } else if (request && error instanceof Refusal) {
          window.location.assign(`${page}?request=${request.request_id}`);
          return;
        }
        busy(form, false);
      }
    });
  }

  // --- a batch from the "to sign" list -------------------------------------------------------
  function submitHidden(root, action, fields) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = action;
    form.hidden = true;
    fields.forEach(([name, value]) => {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    });
    document.body.append(form);
    form.submit();
  }

  function batchForm(form) {
    const agent = new Agent(form);
    enableScripted(form);
    followMethod(form, agent);
    form.addEventListener("submit", async (event) => {
      const picked = Array.from(form.querySelectorAll("input[name=documents]:checked"));
      if (!picked.length) {
        event.preventDefault();
        agent.box.hidden = false;
        agent.say("nothing_chosen");
        return;
      }
      if (chosenMethod(form) !== "agent" || event.defaultPrevented) return;
      event.preventDefault();
      busy(form, true);
      const labels = new Map(picked.map((box) => [box.value.split(":")[0],
        box.getAttribute("data-label") || ""]));
      let batch = null;
      try {
        await agent.load(false);
        const certificate = agent.chosen();
        setField(form, "certificate_fingerprint", certificate.fingerprint);
        agent.say("preparing");
        batch = await post(form, form.action, Array.from(new FormData(form).entries()));
        const open = batch.items.filter((i) => i.request_id && i.status === "pending");
        const skipped = batch.items.filter((i) => i.error)
          .map((i) => ({ document_id: i.document_id, code: i.error.code }));
        let signatures = new Map();
        if (open.length) {
          signatures = await agent.sign(certificate, open.map((i) => ({
            id: i.request_id, digest: i.digest, label: labels.get(i.document_id) || i.document_id,
          })));
        }
        agent.say("sending");
        submitHidden(form, `/app/signature-batches/${batch.batch_id}/signatures`, [
          ["csrf_token", csrfOf(form)],
          ["items", JSON.stringify(open.map((i) => ({
            document_id: i.document_id, request_id: i.request_id,
            signature: signatures.get(i.request_id) || "",
          })))],
          ["skipped", JSON.stringify(skipped)],
        ]);
      } catch (error) {
        agent.fail(error);
        if (batch && error instanceof Refusal && error.key !== "server") {
          for (const item of batch.items.filter((i) => i.request_id && i.status === "pending")) {
            try {
              await post(form, `/app/documents/${item.document_id}/signature-requests/`
                + `${item.request_id}/cancel`, []);
            } catch (ignored) { /* a later request supersedes it */ }
          }
        }
        busy(form, false);
      }
    });
  }

  // --- registering the token's certificate (possession of its key) --------------------------
  function registerSection(section) {
    const agent = new Agent(section);
    const form = section.querySelector("form[data-register-form]");
    enableScripted(section);
    const loader = section.querySelector("[data-agent-load]");
    loader.addEventListener("click", () => {
      agent.loaded = null;
      agent.load(true).catch((error) => agent.fail(error));
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      busy(form, true);
      try {
        await agent.load(true);
        const certificate = agent.chosen();
        agent.say("preparing");
        const challenge = await post(form, "/app/certificates/challenge", []);
        const signatures = await agent.sign(certificate, [{
          id: "challenge", digest: challenge.digest, label: messages.register_label,
        }]);
        agent.say("sending");
        const done = await post(form, form.action, [
          ["certificate", certificate.certificate],
          ["chain", JSON.stringify(certificate.chain || [])],
          ["challenge", challenge.challenge],
          ["signature", signatures.get("challenge") || ""],
        ]);
        window.location.assign(done.redirect);
      } catch (error) {
        agent.fail(error);
        busy(form, false);
      }
    });
  }

  const start = () => {
    document.querySelectorAll("form[data-signing=document]").forEach(documentForm);
    document.querySelectorAll("form[data-signing=batch]").forEach(batchForm);
    document.querySelectorAll("[data-signing=register]").forEach(registerSection);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
