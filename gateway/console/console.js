// The handler console: a key made and kept in this browser (WebCrypto
// Ed25519, non-extractable, in IndexedDB), and every request signed with
// it as an HTTP Message Signature (RFC 9421; docs/handler-api.md). The
// router verifies each signature; this page holds no other credential.
"use strict";

const $ = (id) => document.getElementById(id);
const enc = new TextEncoder();
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));

let current = null;   // {id, lease}

function say(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function store(mode, fn) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("mailroom-console", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("keys");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const req = fn(open.result.transaction("keys", mode).objectStore("keys"));
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    };
  });
}

const loadKey = () => store("readonly", (s) => s.get("handler"));
const saveKey = (k) => store("readwrite", (s) => s.put(k, "handler"));

async function call(method, path, body) {
  const key = await loadKey();
  if (!key) throw new Error("no key: create one first");
  const bytes = body === undefined ? null : enc.encode(JSON.stringify(body));
  const created = Math.floor(Date.now() / 1000);
  const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
  const comps = ['"@method"', '"@path"'];
  const lines = [`"@method": ${method}`, `"@path": ${path}`];
  const headers = {};
  if (bytes) {
    const digest = `sha-256=:${b64(await crypto.subtle.digest("SHA-256", bytes))}:`;
    comps.push('"content-digest"');
    lines.push(`"content-digest": ${digest}`);
    headers["Content-Digest"] = digest;
    headers["Content-Type"] = "application/json";
  }
  const params = `(${comps.join(" ")});created=${created};keyid="${key.keyid}";nonce="${nonce}";alg="ed25519"`;
  lines.push(`"@signature-params": ${params}`);
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, enc.encode(lines.join("\n")));
  headers["Signature-Input"] = `sig1=${params}`;
  headers["Signature"] = `sig1=:${b64(sig)}:`;
  const resp = await fetch(path, { method, headers, body: bytes, credentials: "omit", cache: "no-store" });
  const doc = await resp.json();
  if (!resp.ok) throw new Error(doc.error ? `${doc.error.code}: ${doc.error.message}` : `HTTP ${resp.status}`);
  return doc;
}

function showKey(keyid) {
  $("no-key").hidden = true;
  $("make-key").hidden = true;
  $("have-key").hidden = false;
  $("keyid").textContent = keyid;
  $("admin-cmd").textContent = `mailroom-admin handler add NAME --key ${keyid} --queues QUEUE`;
  $("queues-box").hidden = false;
}

async function makeKey() {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const keyid = hex(await crypto.subtle.exportKey("raw", pair.publicKey));
  await saveKey({ privateKey: pair.privateKey, keyid });
  showKey(keyid);
  say("密钥已生成。Key created.");
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = String(c);
    tr.appendChild(td);
  }
  return tr;
}

async function refresh() {
  const doc = await call("GET", "/api/v1/queues");
  const body = $("queues");
  body.replaceChildren();
  for (const q of doc.queues) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = "领取 Pull";
    b.addEventListener("click", () => pull(q.name).catch((e) => say(e.message, true)));
    body.appendChild(row([q.name, q.depth, q.leased, q.due_soon, q.overdue, q.seriously_overdue, b]));
  }
}

function show(m) {
  const dl = $("message");
  dl.replaceChildren();
  const add = (label, value) => {
    if (value === undefined || value === null || value === "") return;
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = label;
    dd.textContent = typeof value === "object" ? JSON.stringify(value) : String(value);
    dl.append(dt, dd);
  };
  add("编号 Code", m.tracking_code);
  add("状态 Status", m.status);
  add("队列 Queue", m.queue);
  add("收到 Received", m.received_at);
  add("签收时限 Ack due", m.ack_due_at);
  add("答复时限 Reply due", m.reply_due_at);
  add("标题 Subject", m.subject);
  add("内容 Body", m.body);
  if (m.contact) add("联系人 Contact", [m.contact.name, m.contact.phone, m.contact.email].filter(Boolean).join("  "));
  if (m.timeline) {
    add("经过 Steps", m.timeline.map((s) => `${s.at}  ${s.event}  ${s.actor}` +
      (s.reply_due_at ? `  → ${s.reply_due_at}` : "")).join("\n") + (m.timeline_partial ? "\n…" : ""));
  }
  $("message-box").hidden = false;
}

async function pull(queue) {
  const doc = await call("POST", "/api/v1/pull", { queue, wait: 0 });
  if (!doc.message) {
    say("队列为空。The queue is empty.");
    return;
  }
  current = { id: doc.message.id, lease: doc.lease.token };
  show((await call("GET", `/api/v1/messages/${current.id}`)).message);
  say("已领取，请在租约到期前答复。Leased: reply before the lease expires.");
}

async function reply(event) {
  event.preventDefault();
  if (!current) return;
  const text = $("reply-text").value.trim();
  const doc = await call("POST", `/api/v1/messages/${current.id}/reply`, { lease: current.lease, text });
  show(doc.message);
  current = null;
  $("reply-text").value = "";
  say("已答复。Replied.");
  await refresh();
}

async function release() {
  if (!current) return;
  await call("POST", `/api/v1/messages/${current.id}/release`, { lease: current.lease });
  current = null;
  $("message-box").hidden = true;
  say("已退回队列。Released.");
  await refresh();
}

document.addEventListener("DOMContentLoaded", async () => {
  const fail = (e) => say(e.message, true);
  $("make-key").addEventListener("click", () => makeKey().catch(fail));
  $("refresh").addEventListener("click", () => refresh().catch(fail));
  $("reply-form").addEventListener("submit", (e) => reply(e).catch(fail));
  $("release").addEventListener("click", () => release().catch(fail));
  if (!window.isSecureContext || !crypto.subtle) {
    say("需要安全连接（HTTPS 或本机）。A secure context (HTTPS or localhost) is needed.", true);
    return;
  }
  try {
    const key = await loadKey();
    if (key) {
      showKey(key.keyid);
      await refresh();
    }
  } catch (e) {
    fail(e);
  }
});
