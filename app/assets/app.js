// Parley's page. Everything from a channel is put in the page with
// textContent, never as HTML. Every API request sends the session's key
// (keyHeaders); the server checks it, and the origin of every change.
"use strict";

const state = { me: "", channels: [], current: null, tab: "conversation", mark: 0, events: null, members: [], renderGen: 0 };

// The session's key arrives once, in the fragment of the address the
// login sends the page to; it is kept in this tab's sessionStorage,
// which no other origin (another port of this address included) can
// read, and taken out of the address bar and the history.
const sessionKey = (() => {
  const m = /^#key=([0-9a-f]{64})$/.exec(location.hash);
  if (m) {
    sessionStorage.setItem("parley-key", m[1]);
    history.replaceState(null, "", "/");
  }
  return sessionStorage.getItem("parley-key") || "";
})();
const keyHeaders = (more) => Object.assign({ "X-Parley-Key": sessionKey }, more || {});

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "on") for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
    else if (v === true) e.setAttribute(k, "");
    else if (v !== false && v != null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const $ = (id) => document.getElementById(id);

function notice(text, bad) {
  const n = $("notice");
  n.textContent = text || "";
  n.className = bad ? "error" : "";
}

async function call(method, path, body, poll) {
  const opts = { method, headers: keyHeaders(), credentials: "same-origin" };
  // The page's own polling says the window is open, not that a person
  // is using it: the server's idle lock does not count it.
  if (poll) opts.headers["X-Parley-Poll"] = "1";
  if (method !== "GET") {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body || {});
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (_) { data = { error: "unexpected answer from parley app" }; }
  if (r.status === 423) { showUnlock(); throw new Error(data.error); }
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}
const get = (p) => call("GET", p);
const post = (p, b) => call("POST", p, b);
const chPath = (rest) => "/api/channels/" + encodeURIComponent(state.current) + rest;

// stopEvents ends the live stream: before a channel is erased here, so
// that its last words ("no channel named …") do not cover the outcome.
function stopEvents() {
  if (state.events) { state.events.close(); state.events = null; }
}

function showUnlock() {
  stopEvents();
  $("app").hidden = true;
  $("unlock").hidden = false;
  $("passphrase").value = "";
  $("passphrase").focus();
}

async function start() {
  const s = await get("/api/state");
  $("setup").hidden = true;
  if (s.no_home) { $("app").hidden = true; $("unlock").hidden = true; $("setup").hidden = false; $("setup-name").focus(); return; }
  if (s.locked) return showUnlock();
  state.me = s.name;
  $("me").textContent = s.name + " · safety number " + s.safety_number;
  $("unlock").hidden = true;
  $("app").hidden = false;
  await loadChannels();
}

async function loadChannels(poll) {
  state.channels = await call("GET", "/api/channels", null, poll);
  const ul = $("channels");
  ul.replaceChildren(...state.channels.map((c) => el("li", {},
    el("button", { type: "button", "aria-current": String(c.name === state.current), on: { click: () => openChannel(c.name) } },
      el("bdi", {}, c.name), " ", el("small", {}, "(" + (c.role || c.status) + ")"),
      c.unread && c.name !== state.current ? el("span", { class: "count", title: c.unread + " new" }, c.unread + " new") : "",
      c.queued ? el("small", { class: "queued block" }, c.queued + " waiting to be sent") : "",
      c.link && !c.link.ok ? el("small", { class: "error block", title: c.link.error }, "⚠ relay not reached")
        : c.relays_down ? el("small", { class: "error block" }, "⚠ " + c.relays_down + " of " + c.relays + " relays not reached") : ""))));
}

// poll refreshes the channel list every 15 seconds: new messages in the
// other channels, what waits to be sent, whether the relay answers. It
// also tells the server that this window is still open (a closed window
// lets the home lock within minutes).
function poll() {
  setInterval(async () => {
    if ($("app").hidden) return;
    try { await loadChannels(true); } catch (_) { /* a 423 shows the unlock form */ }
  }, 15000);
}

// refreshInfo reloads the channel list after a system line (an
// admission, a removal, a new member) and redraws the view when this
// member's role or state changed.
async function refreshInfo() {
  const before = channelInfo();
  await loadChannels();
  const now = channelInfo();
  if (before.role !== now.role || before.status !== now.status) render();
  else $("channel-title").textContent = titleOf(now);
}

function titleOf(info) {
  return info.name + " · " + (info.policy ? info.policy + " · " : "") + (info.role || info.status) + " · " + info.members + " members";
}

function channelInfo() { return state.channels.find((c) => c.name === state.current) || {}; }

async function openChannel(name) {
  state.current = name;
  state.tab = "conversation";
  await loadChannels();
  render();
}

// render draws the current channel's tab. The new tab is built beside the
// one on screen and swapped in whole once its data is in: a redraw (an
// admission arriving live) then never takes a field away while someone
// types in it. When the tab redrawn is the one on screen, what was typed
// or chosen in its fields carries over (the message box, a draft's text,
// the Organize forms), and so do the focus and the caret. Of two redraws
// under way, only the later is shown.
async function render() {
  const gen = ++state.renderGen;
  const info = channelInfo();
  const tabs = [["conversation", "Conversation"], ["drafts", "Drafts"], ["people", "People"]];
  if (info.role === "organizer") tabs.push(["organize", "Organize"]);
  if (info.role === "mentor") tabs.splice(1, 1);
  tabs.push(["channel", "Keep or leave"]);
  const bar = el("div", { class: "tabs", role: "tablist" }, tabs.map(([id, label]) =>
    el("button", { type: "button", role: "tab", "aria-selected": String(id === state.tab), on: { click: () => { state.tab = id; render(); } } }, label)));
  const body = el("div", { id: "tab-body" });
  try {
    await ({ conversation: renderConversation, drafts: renderDrafts, people: renderPeople, organize: renderOrganize, channel: renderChannel })[state.tab](body, info);
  } catch (e) { notice(e.message, true); }
  if (gen !== state.renderGen) return;
  const oldBody = $("tab-body");
  const same = oldBody && state.drawn === state.current + "\u0000" + state.tab;
  const active = oldBody && oldBody.contains(document.activeElement) && document.activeElement.id ? document.activeElement : null;
  const caret = active && typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
  if (same) { carryFields(oldBody, body); carryOutputs(oldBody, body); }
  $("main").replaceChildren(el("h2", { id: "channel-title" }, titleOf(info)), bar, body);
  state.drawn = state.current + "\u0000" + state.tab;
  if (state.list && body.contains(state.list)) state.list.scrollTop = state.list.scrollHeight;
  const text = $("compose");
  if (text) text.value = state.compose || "";
  const focus = same && active ? $(active.id) : null;
  if (!focus) return;
  focus.focus();
  if (caret) try { focus.setSelectionRange(caret[0], caret[1]); } catch (_) { /* a field without a caret */ }
}

// carryFields copies what was typed or chosen in the fields of a tab on
// screen into the same fields (by id) of its redrawn copy. A choice the
// new copy no longer offers (a member since removed) is left at the new
// default, and a file chooser cannot be set from a page.
function carryFields(from, to) {
  for (const f of from.querySelectorAll("input[id], textarea[id], select[id]")) {
    const g = to.querySelector("#" + CSS.escape(f.id));
    if (!g || g.tagName !== f.tagName || f.type === "file") continue;
    if (f.type === "checkbox" || f.type === "radio") g.checked = f.checked;
    else if (g.tagName !== "SELECT" || [...g.options].some((o) => o.value === f.value)) g.value = f.value;
  }
}

// carryOutputs moves what a form showed in answer (an invite code just
// made) into the same place of the tab's redrawn copy: a redraw while
// the organizer reads the code out must not take it away. Leaving the
// tab or the channel drops it.
function carryOutputs(from, to) {
  for (const id of ["invite-out"]) {
    const f = from.querySelector("#" + id), g = to.querySelector("#" + id);
    if (f && g && f.childNodes.length) g.replaceChildren(...f.childNodes);
  }
}

// showMain puts something other than a channel's tab in the main pane; a
// redraw still under way is then not shown over it.
function showMain(...children) {
  state.renderGen++;
  $("main").replaceChildren(...children);
}

function entryItem(e) {
  const t = new Date(e.time);
  const time = el("span", { class: "time" }, t.toLocaleString());
  if (e.kind === "system") return el("li", { class: "system" + (e.alarm ? " alarm" : "") }, time, e.alarm ? "⚠ " : "", e.text);
  const badge = e.kind === "briefing" ? el("span", { class: "badge briefings" }, "briefing") : e.kind === "side-briefing" ? el("span", { class: "badge briefings" }, "side " + e.side + " only") : e.kind === "message" ? el("span", { class: "badge talks" }, "talks") : el("span", { class: "badge talks" }, e.kind);
  return el("li", {}, time, badge, el("bdi", { class: "who" }, e.sender), ": ", el("bdi", {}, e.text));
}

async function renderConversation(body, info) {
  const list = el("ul", { class: "entries", "aria-label": "Messages" });
  const mentor = info.role === "mentor";
  // A member of a side may also brief that side alone.
  let members = [];
  try { members = await get(chPath("/members")); } catch (e) { /* the audience line says what is known */ }
  const me = members.find((m) => m.you);
  const side = me && me.side ? me.side : "";
  const sideReaders = members.filter((m) => side && m.side === side).map((m) => m.name).join(", ");
  const audience = el("p", { class: "audience", id: "audience" });
  const choose = (comp) => {
    audience.textContent = comp === "talks"
      ? "To the talks: read by the participants and organizers, never by mentors."
      : comp === "side"
        ? "To side " + side + " only: read by " + sideReaders + ", and by no other side."
        : "To the briefings: read by everyone in the channel, mentors included.";
  };
  const choices = (mentor ? [["briefings", "Briefings"]] : [["talks", "Talks"], ["briefings", "Briefings"]]).concat(side ? [["side", "Side " + side + " only"]] : []);
  const first = mentor ? "briefings" : "talks";
  const radios = choices.length < 2 ? [] : choices.map(([v, label]) =>
    el("label", {}, el("input", { type: "radio", name: "comp", value: v, checked: v === first, on: { change: () => choose(v) } }), " " + label));
  // What is being typed survives a redraw (an admission arriving live).
  const text = el("textarea", { id: "compose", "aria-label": "Message", on: { input: () => { state.compose = text.value; } } });
  text.value = state.compose || "";
  const form = el("form", { on: { submit: async (ev) => {
    ev.preventDefault();
    const picked = document.querySelector("input[name=comp]:checked");
    const comp = picked ? picked.value : first;
    try {
      const r = await post(chPath("/send"), { compartment: comp, text: text.value });
      text.value = state.compose = "";
      notice(r.status === "sent" ? (r.note || "Sent.") : "Queued, not sent yet: " + r.note, r.status !== "sent");
      await reloadEntries();
    } catch (e) { notice(e.message, true); }
  } } }, el("fieldset", {}, el("legend", {}, "Write"), radios, audience, text, el("button", { type: "submit", class: "primary" }, "Send")));
  body.replaceChildren(list, form);
  choose(first);
  state.list = list;
  await reloadEntries();
}

// reloadEntries shows the whole transcript again and follows it from
// there: after the page's own send, whose entry the home records when the
// relay acknowledges it, which the live stream may already have passed.
async function reloadEntries() {
  const list = state.list;
  stopEvents();
  try {
    const r = await get(chPath("/entries"));
    list.replaceChildren(...r.entries.map(entryItem));
    list.scrollTop = list.scrollHeight;
    state.mark = r.mark;
  } catch (e) { return notice(e.message, true); }
  const src = new EventSource(chPath("/events?after=" + state.mark + "&key=" + sessionKey));
  src.addEventListener("entry", async (m) => {
    const e = JSON.parse(m.data);
    state.mark = e.mark;
    list.append(entryItem(e));
    list.scrollTop = list.scrollHeight;
    if (e.kind === "system") await refreshInfo();
  });
  src.addEventListener("status", (m) => notice("Relay: " + JSON.parse(m.data)));
  src.addEventListener("problem", (m) => notice(JSON.parse(m.data), true));
  src.addEventListener("locked", () => { src.close(); start(); });
  src.addEventListener("gone", () => src.close());
  state.events = src;
}

function sideBySide(diff) {
  const grid = el("div", { class: "sbs", "aria-label": "Side by side" });
  let dels = [], adds = [];
  const flush = () => {
    for (let i = 0; i < Math.max(dels.length, adds.length); i++) {
      grid.append(el("div", { class: dels[i] != null ? "del" : "" }, dels[i] ?? ""), el("div", { class: adds[i] != null ? "add" : "" }, adds[i] ?? ""));
    }
    dels = []; adds = [];
  };
  for (const line of diff.split("\n")) {
    // The two versions' names head their columns.
    if (line.startsWith("--- ")) { grid.append(el("div", { class: "head" }, line.slice(4))); continue; }
    if (line.startsWith("+++ ")) { grid.append(el("div", { class: "head" }, line.slice(4))); continue; }
    if (line.startsWith("@@")) { flush(); grid.append(el("div", {}, line), el("div", {}, line)); continue; }
    if (line.startsWith("-")) dels.push(line.slice(1));
    else if (line.startsWith("+")) adds.push(line.slice(1));
    else { flush(); grid.append(el("div", {}, line.slice(1)), el("div", {}, line.slice(1))); }
  }
  flush();
  return grid;
}

async function renderDrafts(body) {
  const out = el("div", { id: "draft-view" });
  let list = [];
  try { list = await get(chPath("/drafts")); } catch (e) { return body.replaceChildren(el("p", { class: "error" }, e.message)); }
  const pick = (id) => el("select", { id, "aria-label": id === "draft-a" ? "Older version" : "Newer version" },
    list.map((d) => el("option", { value: d.name + "\u0000" + (d.conflict ? d.sha256 : d.version) }, d.name + " v" + d.version + " by " + d.author)));
  const rows = list.map((d) => el("tr", {}, el("td", {}, d.name), el("td", {}, "version " + d.version, d.conflict ? el("span", { class: "alarm" }, " (conflict)") : ""),
    el("td", {}, d.author), el("td", {}, new Date(d.time).toLocaleString()), el("td", {}, d.size + " bytes"), el("td", {}, el("code", {}, d.sha256.slice(0, 16))),
    el("td", { class: "initials" }, (d.initials || []).map((i) => i.name + " (side " + i.side + ")").join(", ") || "—"),
    el("td", {}, el("button", { type: "button", on: { click: async () => {
      const r = await get(chPath("/drafts/" + encodeURIComponent(d.name) + "?version=" + d.sha256));
      out.replaceChildren(el("h3", {}, d.name + ", version " + d.version), r.binary ? el("p", {}, "A binary draft of " + r.size + " bytes.") : el("pre", {}, r.text));
    } } }, "Open"), " ", el("button", { type: "button", on: { click: async () => {
      const r = await fetch(chPath("/drafts/" + encodeURIComponent(d.name) + "/file?version=" + d.sha256), { credentials: "same-origin", headers: keyHeaders() });
      if (!r.ok) { let m = "download failed"; try { m = (await r.json()).error; } catch (_) {} return notice(m, true); }
      save(await r.blob(), d.name + "-v" + d.version);
    } } }, "Download"), " ", el("button", { type: "button", on: { click: () => initialPanel(out, d, () => renderDrafts(body)) } }, "Initial…"),
    (d.initials || []).length ? [" ", el("button", { type: "button", on: { click: () => agreementPanel(out, d) } }, "Agreement record…")] : "")));
  const a = pick("draft-a"), b = pick("draft-b");
  if (list.length > 1) b.selectedIndex = list.length - 1;
  const compare = el("button", { type: "button", on: { click: async () => {
    const [na, ha] = a.value.split("\u0000"), [nb, hb] = b.value.split("\u0000");
    if (na !== nb) return notice("Choose two versions of the same draft.", true);
    try {
      const r = await get(chPath("/diff/" + encodeURIComponent(na) + "?a=" + ha + "&b=" + hb));
      out.replaceChildren(el("h3", {}, "Side by side"), r.diff ? sideBySide(r.diff) : el("p", {}, "The two versions are the same."), el("h3", {}, "Inline"), el("pre", {}, r.diff || "(no difference)"));
    } catch (e) { notice(e.message, true); }
  } } }, "Compare");
  const name = el("input", { id: "draft-name", "aria-label": "Draft name", placeholder: "declaration" });
  const text = el("textarea", { id: "draft-text", "aria-label": "Text of the new version" });
  const file = el("input", { type: "file", "aria-label": "Or choose a file", on: { change: async () => { if (file.files[0]) text.value = await file.files[0].text(); } } });
  // A file dropped anywhere on the form fills the text: what will be
  // published is shown before Publish.
  const dropped = async (ev) => {
    ev.preventDefault();
    const f = ev.dataTransfer && ev.dataTransfer.files[0];
    if (!f) return;
    text.value = await f.text();
    if (!name.value.trim()) name.value = f.name.replace(/\.[^.]*$/, "");
    notice("Read " + f.name + ". Check the text, then Publish.");
  };
  const put = el("form", { on: { submit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await post(chPath("/drafts/" + encodeURIComponent(name.value.trim())), { text: text.value });
      notice("Published version " + r.version + " of " + name.value.trim() + ".");
      renderDrafts(body);
    } catch (e) { notice(e.message, true); }
  } } }, el("fieldset", { class: "drop", on: { dragover: (ev) => ev.preventDefault(), drop: dropped } }, el("legend", {}, "Put a new version (the talks: participants and organizers)"),
    el("p", {}, "Paste the text, choose a file, or drop a file here."), el("label", {}, "Name ", name), file, text, el("button", { type: "submit", class: "primary" }, "Publish")));
  body.replaceChildren(
    list.length ? el("table", {}, el("thead", {}, el("tr", {}, ["Draft", "Version", "Author", "Time", "Size", "SHA-256", "Initialled by", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows)) : el("p", {}, "No drafts yet."),
    list.length > 1 ? el("p", {}, "Compare ", a, " with ", b, " ", compare) : "", out, put);
}

// initialPanel says what initialling means, and which version exactly,
// before anything is signed: the one signature in Parley that is not
// deniable.
function initialPanel(out, d, done) {
  out.replaceChildren(el("section", { id: "initial-panel", class: "warning" },
    el("h3", {}, "Initial " + d.name + ", version " + d.version + "?"),
    el("p", {}, "Initialling is NOT deniable. You sign this version's hash with your identity key, as your name and side. " +
      "Anyone who is later given the agreement record can prove, to anyone, that you initialled exactly this text. " +
      "Nothing else you wrote in the channel is signed, and nothing else becomes provable."),
    el("p", {}, "SHA-256 of the version: ", el("code", {}, d.sha256)),
    el("button", { type: "button", class: "primary", on: { click: async () => {
      try {
        const r = await post(chPath("/drafts/" + encodeURIComponent(d.name) + "/initial"), { sha256: d.sha256, understood: true });
        notice(r.status === "sent" ? "Initialled version " + r.version + " of " + d.name + "." : r.note);
        done();
      } catch (e) { notice(e.message, true); }
    } } }, "I understand: initial version " + d.version), " ",
    el("button", { type: "button", on: { click: () => out.replaceChildren() } }, "Cancel")));
}

// agreementPanel lets the channel's founder sign and save the record of
// a version every side initialled.
function agreementPanel(out, d) {
  out.replaceChildren(el("section", { id: "agreement-panel", class: "warning" },
    el("h3", {}, "The agreement record of " + d.name + ", version " + d.version),
    el("p", {}, "Only the channel's founder makes the record, once every side has initialled. It is signed with your identity key: " +
      "you vouch that its signatories are members of this channel on the sides they initialled for, and anyone given the record " +
      "can prove that you and they took part. It holds the text, the initials and the channel's policy; no message, no other member."),
    el("button", { type: "button", class: "primary", on: { click: async () => {
      const r = await fetch(chPath("/drafts/" + encodeURIComponent(d.name) + "/agreement"), { method: "POST", credentials: "same-origin",
        headers: keyHeaders({ "Content-Type": "application/json" }), body: JSON.stringify({ sha256: d.sha256, understood: true }) });
      if (!r.ok) { let m = "the record could not be made"; try { m = (await r.json()).error; } catch (_) {} return notice(m, true); }
      save(await r.blob(), d.name + "-v" + d.version + ".agreement.json");
      notice("Saved the record. Anyone can check it: parley agreement verify FILE.");
    } } }, "Sign and save the record"), " ",
    el("button", { type: "button", on: { click: () => out.replaceChildren() } }, "Cancel")));
}

// relaysTable shows a channel's relays when it has several: which the
// last sync reached, and which lack what the others delivered.
function relaysTable(relays) {
  if (relays.length < 2) return "";
  return el("div", {}, el("h3", {}, "Relays"),
    el("table", { id: "relays" }, el("thead", {}, el("tr", {}, ["Relay", "State", "Withheld"].map((h) => el("th", {}, h)))),
      el("tbody", {}, relays.map((r) => el("tr", {},
        el("td", {}, "relay " + r.id + " (" + r.url.replace(/^wss:\/\//, "").replace(/\/.*$/, "") + ")"),
        el("td", { class: r.reachable ? "" : "error" }, r.forgot ? "does not know the channel" : r.reachable ? "reached" : r.error ? "not reached: " + r.error : "not tried yet"),
        el("td", { class: r.withheld ? "alarm" : "" }, r.withheld ? r.withheld + " frames other relays delivered" : "—"))))));
}

async function renderPeople(body) {
  let members = [], relays = [];
  try { members = await get(chPath("/members")); } catch (e) { return body.replaceChildren(el("p", { class: "error" }, e.message)); }
  try { relays = await get(chPath("/relays")); } catch (_) { /* shown without them */ }
  state.members = members;
  body.replaceChildren(el("p", {}, "Compare each safety number with the person, in person or by a call you trust, before marking them verified."),
    el("table", {}, el("thead", {}, el("tr", {}, ["Name", "Role", "Safety number", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, members.map((m) => el("tr", {}, el("td", {}, el("bdi", {}, m.name), m.you ? " (you)" : ""), el("td", {}, m.role + (m.side ? ", side " + m.side : "") + (m.expires ? ", until " + new Date(m.expires).toLocaleDateString() : "")),
        el("td", {}, el("code", {}, m.safety_number)),
        el("td", {}, m.you ? "" : m.verified ? "verified ✓" : el("button", { type: "button", title: "Only after comparing " + m.safety_number + " with " + m.name, on: { click: async () => {
          try { await post(chPath("/verify"), { member: m.name }); renderPeople(body); } catch (e) { notice(e.message, true); }
        } } }, "We compared it: mark verified")))))), relaysTable(relays));
}

async function renderOrganize(body) {
  const role = el("select", { id: "invite-role", "aria-label": "Role" }, ["participant", "mentor", "organizer"].map((r) => el("option", { value: r }, r)));
  const expires = el("select", { id: "invite-expires", "aria-label": "Valid for" }, [["24h", "one day"], ["72h", "three days"], ["168h", "seven days"]].map(([v, l]) => el("option", { value: v }, l)));
  const code = el("div", { id: "invite-out" });
  const invite = el("form", { on: { submit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await post(chPath("/invite"), { role: role.value, expires: expires.value });
      code.replaceChildren(el("p", {}, "Hand this code over in person or over a channel you trust; it works once:"), el("p", { class: "code", id: "invite-code" }, r.code),
        r.qr_png ? el("figure", {}, el("img", { id: "invite-qr", src: "data:image/png;base64," + r.qr_png, alt: "The same invite as a QR code" }), el("figcaption", {}, "The same code as a QR code, to scan in person.")) : "");
    } catch (e) { notice(e.message, true); }
  } } }, el("fieldset", {}, el("legend", {}, "Invite"), el("label", {}, "Role ", role), " ", el("label", {}, "Valid for ", expires), " ", el("button", { type: "submit", class: "primary" }, "Make an invite"), code));
  // A placeholder of the same height as "none waiting", so the forms
  // below do not move when the list arrives.
  const pending = el("div", { id: "pending" }, el("p", {}, "Looking for join requests…"));
  const loadPending = async () => {
    try {
      const list = await get(chPath("/pending"));
      pending.replaceChildren(list.length ? el("table", {}, el("tbody", {}, list.map((p) => el("tr", {}, el("td", {}, el("bdi", {}, p.name)), el("td", {}, p.role + (p.side ? ", side " + p.side : "")), el("td", {}, el("code", {}, p.safety_number)),
        el("td", {}, el("button", { type: "button", class: "primary", on: { click: async () => {
          try {
            const r = await post(chPath("/admit"), { names: [p.name] });
            notice(r.status === "proposed" ? r.note : "Admitted " + p.name + ".");
            await loadChannels(); loadPending(); loadProposals();
          } catch (e) { notice(e.message, true); }
        } } }, "Admit"), " ", el("button", { type: "button", on: { click: async () => {
          try { await post(chPath("/refuse"), { names: [p.name] }); notice("Refused " + p.name + "'s request. They are not told; to them it stays unanswered."); loadPending(); } catch (e) { notice(e.message, true); }
        } } }, "Refuse")))))) : el("p", {}, "No join requests waiting."));
    } catch (e) { pending.replaceChildren(el("p", { class: "error" }, e.message)); }
  };
  // Roster changes waiting for other sides' organizers (the channel's
  // every-side rule): what each changes, with newcomers' safety numbers,
  // and who must still approve.
  const proposals = el("div", { id: "proposals" });
  const loadProposals = async () => {
    try {
      const list = await get(chPath("/proposals"));
      proposals.replaceChildren(...(list.length ? [el("h3", {}, "Waiting for approval")] : []), ...list.map((p) => el("section", { class: "proposal" },
        el("p", {}, "Roster version " + p.version + " by " + (p.mine ? "you" : p.maker) + ": " + p.change.join("; ") + "."),
        el("p", {}, p.problem ? p.problem : p.missing_sides.length ? "Waits for an organizer of side " + p.missing_sides.join(", side ") + "." : "Every side has approved; it goes out at the next sync.",
          (p.approved_by || []).length ? " Approved by " + p.approved_by.join(", ") + "." : ""),
        p.mine ? el("button", { type: "button", on: { click: async () => {
          try { await post(chPath("/withdraw"), {}); notice("Withdrew your proposal of roster version " + p.version + "."); loadProposals(); loadPending(); } catch (e) { notice(e.message, true); }
        } } }, "Withdraw") : p.problem ? "" : el("button", { type: "button", class: "primary", on: { click: async () => {
          try {
            const r = await post(chPath("/approve"), { version: p.version });
            notice(r.status === "queued" ? r.note : "Approved roster version " + p.version + (r.missing_sides.length ? "; it still needs side " + r.missing_sides.join(", side ") + "." : "."));
            loadProposals();
          } catch (e) { notice(e.message, true); }
        } } }, "Approve version " + p.version))));
    } catch (e) { proposals.replaceChildren(el("p", { class: "error" }, e.message)); }
  };
  // The view is drawn at once; the lists fill in when they arrive, so
  // nothing drawn later replaces what a person is already using.
  const who = el("select", { id: "remove-who", "aria-label": "Member to remove" });
  const ask = el("div", { id: "remove-confirm" });
  const remove = el("form", { on: { submit: (ev) => {
    ev.preventDefault();
    const name = who.value;
    // An in-page confirmation, not a browser dialog: it names who and
    // what happens, and is read by screen readers like the rest.
    ask.replaceChildren(el("p", { role: "alert" }, "Remove " + name + "? A new epoch starts without them; they keep what they already had and read nothing new."),
      el("button", { type: "button", class: "danger", on: { click: async () => {
        ask.replaceChildren();
        try {
          const r = await post(chPath("/remove"), { member: name });
          notice(r.status === "proposed" ? r.note : "Removed " + name + ".");
          await loadChannels(); render();
        } catch (e) { notice(e.message, true); }
      } } }, "Yes, remove " + name), " ",
      el("button", { type: "button", on: { click: () => ask.replaceChildren() } }, "Cancel"));
  } } }, el("fieldset", {}, el("legend", {}, "Remove someone"), who, " ", el("button", { type: "submit", class: "danger" }, "Remove"), ask));
  const confirmName = el("input", { id: "burn-confirm", "aria-label": "Type the channel name to confirm" });
  const burn = el("form", { on: { submit: async (ev) => {
    ev.preventDefault();
    try { if (confirmName.value === state.current) stopEvents(); const r = await post(chPath("/burn"), { confirm: confirmName.value }); notice("Burned " + state.current + "." + (r.note ? " " + r.note : "")); state.current = null; await loadChannels(); showMain(el("p", {}, "The channel was burned.")); } catch (e) { notice(e.message, true); }
  } } }, el("fieldset", {}, el("legend", {}, "Burn the channel"),
    el("p", {}, "Burning erases " + state.current + " at the relay and, at their next sync, from every member's home: messages, drafts and keys. It cannot be undone. Type the channel's name to confirm."),
    confirmName, " ", el("button", { type: "submit", class: "danger" }, "Burn")));
  body.replaceChildren(invite, el("h3", {}, "Waiting to be admitted"), pending, proposals, remove, burn);
  loadPending();
  loadProposals();
  try {
    const members = await get(chPath("/members"));
    who.replaceChildren(...members.filter((m) => !m.you).map((m) => el("option", { value: m.name }, m.name + " (" + m.role + ")")));
  } catch (e) { notice(e.message, true); }
}

// renderChannel offers the export of the transcript (encrypted; plain
// text only where the channel's policy allows it) and leaving the
// channel.
function renderChannel(body, info) {
  const to = el("textarea", { id: "export-to", "aria-label": "age recipients, one a line", placeholder: "age1…" });
  const exp = el("form", { on: { submit: async (ev) => {
    ev.preventDefault();
    const r = await fetch(chPath("/export"), { method: "POST", credentials: "same-origin",
      headers: keyHeaders({ "Content-Type": "application/json" }), body: JSON.stringify({ recipients: to.value }) });
    if (!r.ok) { let m = "export failed"; try { m = (await r.json()).error; } catch (_) {} return notice(m, true); }
    const plain = !to.value.trim();
    save(await r.blob(), state.current + "-transcript" + (plain ? ".txt" : ".age"));
    notice(plain ? "The transcript was saved as plain text: anyone with the file can read it." : "The transcript was saved, encrypted to the recipients given.");
  } } }, el("fieldset", {}, el("legend", {}, "Export the transcript"),
    el("p", {}, "The file can be opened only with the age identity of one of these recipients (the age tool, or another Parley home). Ask the person who will keep it for their age recipient."),
    el("p", {}, info.policy === "soft"
      ? "This channel is soft: with no recipient, the transcript is saved as plain text, readable by anyone who gets the file."
      : "This channel is hard: the transcript leaves this computer only encrypted."),
    to, el("button", { type: "submit", class: "primary" }, "Save the transcript")));
  const confirmName = el("input", { id: "leave-confirm", "aria-label": "Type the channel name to confirm" });
  const leave = el("form", { on: { submit: async (ev) => {
    ev.preventDefault();
    try { if (confirmName.value === state.current) stopEvents(); await post(chPath("/leave"), { confirm: confirmName.value }); notice("You left " + state.current + "; it is erased from this computer."); state.current = null; await loadChannels(); showMain(el("p", {}, "You left the channel.")); } catch (e) { notice(e.message, true); }
  } } }, el("fieldset", {}, el("legend", {}, "Leave the channel"),
    el("p", {}, "Leaving tells the others you left and erases " + state.current + " from this computer: messages, drafts and keys. Type the channel's name to confirm."),
    confirmName, " ", el("button", { type: "submit", class: "danger" }, "Leave")));
  body.replaceChildren(exp, leave);
}

// save offers blob as a download named name.
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function showForm(title, fields, submit) {
  const form = el("form", { on: { submit: async (ev) => { ev.preventDefault(); try { await submit(); } catch (e) { notice(e.message, true); } } } },
    el("h2", {}, title), fields, el("button", { type: "submit", class: "primary" }, title));
  showMain(form);
}

document.addEventListener("DOMContentLoaded", () => {
  $("unlock-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    // The passphrase leaves the page as soon as it is sent: the form
    // stays in the page, hidden, for as long as the home is open.
    const passphrase = $("passphrase").value;
    $("passphrase").value = "";
    try { await post("/api/unlock", { passphrase }); $("unlock-error").textContent = ""; await start(); }
    catch (e) { $("unlock-error").textContent = e.message; }
  });
  $("setup-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if ($("setup-pass").value !== $("setup-pass2").value) { $("setup-error").textContent = "The two passphrases differ."; return; }
    const passphrase = $("setup-pass").value;
    $("setup-pass").value = $("setup-pass2").value = "";
    try { await post("/api/init", { name: $("setup-name").value, passphrase }); $("setup-error").textContent = ""; await start(); }
    catch (e) { $("setup-error").textContent = e.message; }
  });
  $("lock").addEventListener("click", async () => { await post("/api/lock"); showUnlock(); });
  $("quit").addEventListener("click", async () => { await post("/api/quit"); document.body.replaceChildren(el("p", { class: "card" }, "Parley is locked and has quit. You can close this window.")); });
  $("show-join").addEventListener("click", () => {
    const code = el("textarea", { id: "join-code", "aria-label": "Invite code" }), as = el("input", { id: "join-as", "aria-label": "Name for the channel on this computer (optional)" });
    showForm("Join", [el("label", {}, "Invite code ", code), el("label", {}, "Call the channel (optional) ", as)], async () => {
      const r = await post("/api/join", { code: code.value, as: as.value });
      notice("Join request sent for " + r.channel + ". Once an organizer admits you, it opens here.");
      await loadChannels(); openChannel(r.channel);
    });
  });
  $("show-create").addEventListener("click", () => {
    const name = el("input", { id: "create-name", "aria-label": "Channel name" }), relay = el("textarea", { id: "create-relay", rows: 2, "aria-label": "Relay addresses, one a line" });
    const sec = [["hard", "Hard: at most 12 members, messages kept 3 days, no plaintext export."], ["soft", "Soft: up to 50 members, kept 30 days, plaintext export allowed."]]
      .map(([v, l]) => el("label", { class: "block" }, el("input", { type: "radio", name: "secrecy", value: v, checked: v === "hard" }), " " + l));
    showForm("Create", [el("label", {}, "Name ", name), el("label", { class: "block" }, "Relay address (from whoever runs the relay; for several relays, one a line, up to five) ", relay), el("fieldset", {}, el("legend", {}, "Secrecy"), sec)], async () => {
      await post("/api/channels", { name: name.value, relay: relay.value, secrecy: document.querySelector("input[name=secrecy]:checked").value });
      notice("Created " + name.value.trim() + "; you are its organizer.");
      await loadChannels(); openChannel(name.value.trim());
    });
  });
  start().catch((e) => notice(e.message, true));
  poll();
});
