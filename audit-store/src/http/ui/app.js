// The audit log page. Plain JavaScript, no dependencies, no build step.
//
// Safety rule: nothing from the server is ever parsed as markup. Every value
// reaches the page as a text node or through setAttribute on an attribute
// that cannot run code (class, title, datetime, aria-*, data-*); the only
// links built from data point at this API's own event URL, with the id
// passed through encodeURIComponent.
"use strict";

(function () {
  const PAGE_SIZE = 50;
  const DEFAULT_RANGE = "30d";
  const RANGES = { "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3, "90d": 90 * 86400e3 };
  // Filters with a control of their own, by URL (and API) parameter name.
  const SINGLE = ["since", "until", "category", "severity", "outcome", "actor_id", "actor_email", "target_type", "target_id", "q"];
  // Filters the API takes that have no control: kept, shown as removable chips.
  const EXTRA = ["tenant_id", "actor_kind", "ip", "request_id"];
  const COLUMNS = [
    ["time", "Time"],
    ["action", "Action"],
    ["actor", "Actor"],
    ["resource", "Resource"],
    ["description", "Description"],
    ["ip", "Client IP"],
    ["outcome", "Outcome"],
    ["severity", "Severity"],
  ];
  const COLUMNS_KEY = "audit-log.hidden-columns";
  const ACTOR_KINDS = { user: "User", api_key: "API key", service: "Service", system: "System", anonymous: "Anonymous" };
  // The log's own events (`audit_log.viewed` on every read of this page):
  // left out unless the reader asks for them (`reads=show` in the URL).
  const READS = "audit_log.*";
  // What the page calls each filter, by URL (and API) parameter name.
  const LABELS = {
    since: "From", until: "Until", action: "Action", category: "Category", severity: "Severity", outcome: "Outcome",
    actor_id: "Actor", actor_email: "Actor", target_type: "Resource type", target_id: "Resource id", q: "Search",
    tenant_id: "Tenant", actor_kind: "Actor kind", ip: "Client IP", request_id: "Request id",
  };
  const RANGE_NAMES = { "24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days", "90d": "last 90 days" };

  const $ = (id) => document.getElementById(id);

  // The API lives where the page's own path ends in `/ui`.
  const apiBase = location.pathname.replace(/\/ui\/?$/, "");
  const listUrl = apiBase === "" ? "/" : apiBase;

  /** An element with text children; attributes only from the safe list. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else if (name === "class") node.className = value;
      else if (/^(title|datetime|id|type|colspan|scope|for|role|hidden|tabindex|value|aria-[a-z]+|data-[a-z-]+)$/.test(name)) {
        node.setAttribute(name, value === true ? "" : String(value));
      } else {
        throw new Error("el: attribute " + name + " is not on the safe list");
      }
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  /** A link to this API's own URL `path`; never built from a scheme in data. */
  function apiLink(path, text, attrs) {
    const link = el("a", attrs, text);
    link.href = apiBase + path;
    return link;
  }

  // ---- state -------------------------------------------------------------

  /** The filters as the URL says them. */
  function readUrl() {
    const params = new URLSearchParams(location.search);
    const filters = { range: null, action: [], extra: [] };
    for (const name of SINGLE) filters[name] = params.get(name) || "";
    filters.action = params.getAll("action").flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
    const range = params.get("range");
    if (range && RANGES[range]) filters.range = range;
    for (const [name, value] of params) {
      if (EXTRA.includes(name) && value.trim()) filters.extra.push([name, value]);
    }
    if (!filters.since && !filters.until && !filters.range) filters.range = DEFAULT_RANGE;
    filters.reads = params.get("reads") === "show" ? "show" : "hide";
    return filters;
  }

  /** The page URL's query for `filters` (the default range left out). */
  function pageQuery(filters) {
    const params = new URLSearchParams();
    if (filters.range && filters.range !== DEFAULT_RANGE) params.append("range", filters.range);
    for (const name of SINGLE) if (filters[name]) params.append(name, filters[name]);
    for (const action of filters.action) params.append("action", action);
    for (const [name, value] of filters.extra) params.append(name, value);
    if (filters.reads === "show") params.append("reads", "show");
    return params.toString();
  }

  /** The API's parameters for `filters`, the range resolved at `asOf`. */
  function apiParams(filters, asOf) {
    const params = new URLSearchParams();
    let since = filters.since;
    let until = filters.until;
    if (filters.range) since = iso(new Date(asOf.getTime() - RANGES[filters.range]));
    // Pinning the end makes the list, its next pages and its export the
    // same set of events, however many arrive meanwhile (Refresh moves it).
    if (!until) until = iso(asOf);
    if (since) params.append("since", since);
    params.append("until", until);
    for (const action of filters.action) params.append("action", action);
    for (const name of SINGLE) {
      if (name !== "since" && name !== "until" && filters[name]) params.append(name, filters[name]);
    }
    for (const [name, value] of filters.extra) params.append(name, value);
    if (filters.reads !== "show") params.append("not_action", READS);
    return params;
  }

  function iso(date) {
    return date.toISOString().replace(/\.000Z$/, "Z");
  }

  let filters = readUrl();
  let asOf = new Date();
  let cursor = null;
  let generation = 0;
  let shown = 0;
  let rowSerial = 0;
  const deletedTargets = new Set();
  let actionCounts = [];
  const signInUrl = safeSignInUrl(document.querySelector('meta[name="audit-sign-in-url"]')?.getAttribute("content"));

  function safeSignInUrl(raw) {
    if (!raw) return null;
    try {
      const url = new URL(raw, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url : null;
    } catch (_) {
      return null;
    }
  }

  // ---- form <-> filters --------------------------------------------------

  const inputs = {
    since: $("f-since"),
    until: $("f-until"),
    category: $("f-category"),
    severity: $("f-severity"),
    outcome: $("f-outcome"),
    actor: $("f-actor"),
    target_type: $("f-target-type"),
    target_id: $("f-target-id"),
    q: $("f-q"),
  };

  /** `datetime-local` value (local time, minutes) of an RFC 3339 time. */
  function localInput(text) {
    const date = new Date(text);
    if (Number.isNaN(date.getTime())) return "";
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }

  function fillForm() {
    const since = filters.range ? iso(new Date(asOf.getTime() - RANGES[filters.range])) : filters.since;
    inputs.since.value = since ? localInput(since) : "";
    inputs.until.value = filters.until ? localInput(filters.until) : "";
    for (const name of ["category", "severity", "outcome", "target_type", "target_id", "q"]) {
      inputs[name].value = filters[name];
    }
    inputs.actor.value = filters.actor_email || filters.actor_id;
    for (const button of document.querySelectorAll(".preset")) {
      button.setAttribute("aria-pressed", String(button.dataset.range === filters.range));
    }
    for (const input of Object.values(inputs)) input.removeAttribute("aria-invalid");
    $("actions-button").removeAttribute("aria-invalid");
    $("hide-reads").checked = filters.reads !== "show";
    renderChips();
    renderActionsButton();
    renderActionsList();
    const count = countFilters();
    $("filter-count").textContent = count ? `${count} active` : "";
    $("filter-count").hidden = !count;
  }

  function countFilters() {
    let count = filters.action.length ? 1 : 0;
    for (const name of SINGLE) if (filters[name] && name !== "since" && name !== "until") count++;
    return count + filters.extra.length;
  }

  /** The filters the form shows now. */
  function formFilters() {
    const next = { ...filters, action: [...filters.action], extra: [...filters.extra] };
    for (const name of ["category", "severity", "outcome"]) next[name] = inputs[name].value;
    for (const name of ["target_type", "target_id", "q"]) next[name] = inputs[name].value.trim();
    const actor = inputs.actor.value.trim();
    next.actor_email = actor.includes("@") ? actor : "";
    next.actor_id = actor.includes("@") ? "" : actor;
    return next;
  }

  /** Short local date and time, for a chip. */
  function shortTime(text) {
    const date = new Date(text);
    if (Number.isNaN(date.getTime())) return text;
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  /** The active filters, each with what removing it leaves. */
  function activeFilters(of) {
    const active = [];
    const without = (change) => ({ ...of, action: [...of.action], extra: [...of.extra], ...change });
    if (of.range && of.range !== DEFAULT_RANGE) {
      active.push({ param: "range", label: "Time", value: RANGE_NAMES[of.range], time: true, next: without({ range: DEFAULT_RANGE }) });
    } else if (!of.range) {
      const value = of.since && of.until ? `${shortTime(of.since)} to ${shortTime(of.until)}` : of.since ? `since ${shortTime(of.since)}` : `until ${shortTime(of.until)}`;
      active.push({ param: of.since ? "since" : "until", label: "Time", value, time: true, next: without({ range: DEFAULT_RANGE, since: "", until: "" }) });
    }
    for (const action of of.action) {
      active.push({ param: "action", label: LABELS.action, value: action, next: without({ action: of.action.filter((a) => a !== action) }) });
    }
    for (const name of SINGLE) {
      if (name === "since" || name === "until" || !of[name]) continue;
      active.push({ param: name, label: LABELS[name], value: of[name], next: without({ [name]: "" }) });
    }
    of.extra.forEach(([name, value], index) => {
      active.push({ param: name, label: LABELS[name] || name, value, next: without({ extra: of.extra.filter((_, i) => i !== index) }) });
    });
    return active;
  }

  function renderChips() {
    const chips = $("chips");
    chips.replaceChildren();
    for (const filter of activeFilters(filters)) {
      const chip = el("button", { type: "button", class: "chip", "data-param": filter.param, "aria-label": `Remove the filter ${filter.label}: ${filter.value}` },
        el("span", { class: "chip-name", text: filter.label + ":" }), " ", el("span", { class: "chip-value", text: filter.value }),
        el("span", { class: "chip-x", "aria-hidden": "true", text: "✕" }));
      chip.addEventListener("click", () => apply(filter.next));
      chips.append(chip);
    }
    chips.hidden = !chips.firstChild;
  }

  // ---- the actions picker ------------------------------------------------

  function renderActionsButton() {
    const text = filters.action.length === 0 ? "All actions" : filters.action.length === 1 ? filters.action[0] : `${filters.action.length} actions`;
    $("actions-button-text").textContent = text;
  }

  function renderActionsList() {
    const list = $("actions-list");
    const find = $("actions-search").value.trim().toLowerCase();
    const known = new Map(actionCounts.map((row) => [row.action, row]));
    // Selected actions stay listed even when nothing matches them now.
    for (const action of filters.action) {
      if (!action.endsWith(".*") && !known.has(action)) known.set(action, { action, category: "other", count: 0 });
    }
    const groups = new Map();
    for (const row of known.values()) {
      const prefix = row.action.split(".")[0];
      if (!groups.has(prefix)) groups.set(prefix, []);
      groups.get(prefix).push(row);
    }
    for (const action of filters.action) {
      if (action.endsWith(".*") && !groups.has(action.slice(0, -2).split(".")[0])) groups.set(action.slice(0, -2).split(".")[0], []);
    }
    list.replaceChildren();
    const selected = new Set(filters.action);
    for (const prefix of [...groups.keys()].sort()) {
      const rows = groups.get(prefix).filter((row) => !find || row.action.includes(find) || (row.description || "").toLowerCase().includes(find));
      if (find && rows.length === 0 && !prefix.includes(find)) continue;
      rows.sort((a, b) => a.action.localeCompare(b.action));
      const wildcard = prefix + ".*";
      const total = groups.get(prefix).reduce((sum, row) => sum + row.count, 0);
      const group = el("fieldset", { class: "action-group" });
      const whole = checkbox(wildcard, `${prefix}.*`, `all ${total}`, selected.has(wildcard), false);
      group.append(el("legend", {}, whole));
      for (const row of rows) {
        group.append(checkbox(row.action, row.action, String(row.count), selected.has(row.action) || selected.has(wildcard), selected.has(wildcard), row.category, row.description));
      }
      list.append(group);
    }
    if (!list.firstChild) list.append(el("p", { class: "muted", text: actionCounts.length ? "No action matches." : "No actions in this time range." }));
  }

  function checkbox(value, label, count, checked, disabled, category, description) {
    const input = el("input", { type: "checkbox", value, "data-action": value });
    input.checked = checked;
    input.disabled = disabled;
    input.addEventListener("change", () => {
      let action = filters.action.filter((a) => a !== value);
      if (input.checked) {
        if (value.endsWith(".*")) {
          const prefix = value.slice(0, -1);
          action = action.filter((a) => !a.startsWith(prefix));
        }
        action.push(value);
      }
      apply({ ...filters, action }, { keepPanel: true });
    });
    const option = el("label", { class: "action-option" + (category ? " cat-" + category : "") },
      input, " ", el("span", { class: "action-name", text: label }), " ", el("span", { class: "count", text: count }));
    // The catalogue's description of a declared action (its placeholders
    // as written: `Deleted app {target}`).
    if (description) {
      option.title = description;
      option.append(el("span", { class: "action-description muted", text: description }));
    }
    return option;
  }

  function openActions(open) {
    $("actions-panel").hidden = !open;
    $("actions-button").setAttribute("aria-expanded", String(open));
    if (open) {
      renderActionsList();
      $("actions-search").focus();
    }
  }

  async function loadActions() {
    const params = apiParams(filters, asOf);
    params.delete("action");
    try {
      const response = await fetch(apiBase + "/actions?" + params, { credentials: "same-origin", headers: { accept: "application/json" } });
      if (!response.ok) return;
      const body = await response.json();
      if (Array.isArray(body)) {
        actionCounts = body.filter((row) => row && typeof row.action === "string").map((row) => ({
          action: row.action, category: String(row.category || "other"), count: Number(row.count) || 0,
          description: typeof row.description === "string" ? row.description : "",
        }));
        renderActionsList();
      }
    } catch (_) {
      // The list's own request reports what went wrong.
    }
  }

  // ---- loading -----------------------------------------------------------

  /** Makes `next` the filters: in the URL (a history entry), the form, the list. */
  function apply(next, options) {
    const opts = options || {};
    const query = pageQuery(next);
    filters = next;
    if (query !== location.search.replace(/^\?/, "")) {
      history.pushState(null, "", location.pathname + (query ? "?" + query : ""));
    }
    asOf = new Date();
    fillForm();
    if (!opts.keepPanel) openActions(false);
    load(false);
    loadActions();
  }

  function setState(state) {
    document.body.dataset.state = state;
    $("results").setAttribute("aria-busy", String(state === "loading"));
  }

  async function load(append) {
    const mine = ++generation;
    setState("loading");
    const params = apiParams(filters, asOf);
    params.append("limit", String(PAGE_SIZE));
    if (append && cursor) params.append("cursor", cursor);
    if (!append) {
      $("status").textContent = "Loading events…";
      $("load-more").hidden = true;
    } else {
      $("load-more").disabled = true;
      $("load-more").textContent = "Loading…";
    }
    let response;
    let body;
    try {
      response = await fetch(listUrl + "?" + params, { credentials: "same-origin", headers: { accept: "application/json" } });
      body = await response.json().catch(() => null);
    } catch (error) {
      if (mine !== generation) return;
      return showError("The server could not be reached", "Check your connection, then try again.", true);
    }
    if (mine !== generation) return;
    $("load-more").disabled = false;
    $("load-more").textContent = "Load more";
    if (!response.ok) return showApiError(response.status, body);
    hideNotice();
    $("results").hidden = false;
    const events = Array.isArray(body?.data) ? body.data : [];
    if (!append) {
      $("rows").replaceChildren();
      shown = 0;
      deletedTargets.clear();
    }
    const fragment = document.createDocumentFragment();
    for (const event of events) fragment.append(...renderEvent(event));
    $("rows").append(fragment);
    shown += events.length;
    cursor = typeof body?.next_cursor === "string" ? body.next_cursor : null;
    $("load-more").hidden = !cursor;
    $("empty").hidden = shown !== 0;
    $("events").hidden = shown === 0;
    if (shown === 0) renderEmpty();
    setExports(shown > 0);
    const time = asOf.toLocaleTimeString();
    const reads = filters.reads === "show" ? "" : " · log reads hidden";
    $("status").textContent = shown === 0
      ? `No events${reads} · as of ${time}`
      : `${shown} event${shown === 1 ? "" : "s"}${cursor ? ", more available" : ""} · newest first${reads} · as of ${time}`;
    setState(shown === 0 ? "empty" : "ready");
  }

  function setExports(enabled) {
    const params = apiParams(filters, asOf);
    for (const format of ["csv", "ndjson"]) {
      const link = $("export-" + format);
      if (enabled) {
        link.href = `${apiBase}/export?format=${format}&${params}`;
        link.removeAttribute("aria-disabled");
        link.setAttribute("download", "");
        link.title = `Download every event matching these filters as ${format.toUpperCase()}`;
      } else {
        link.removeAttribute("href");
        link.removeAttribute("download");
        link.setAttribute("aria-disabled", "true");
        link.title = "Nothing to export: no event matches these filters";
      }
    }
  }

  /** What to try when nothing matches: remove what most likely hides the events. */
  function renderEmpty() {
    const active = activeFilters(filters);
    const narrowing = active.filter((f) => !f.time);
    const actions = [];
    const offer = (label, next, primary) => {
      const button = el("button", { type: "button", class: primary ? "primary" : null }, label);
      button.addEventListener("click", () => apply(next));
      actions.push(button);
    };
    let message;
    if (filters.q) {
      message = ["Nothing in this time range matches the search ", el("q", { text: filters.q }), "."];
      offer("Clear the search", { ...filters, q: "" }, true);
      if (narrowing.length > 1) message.push(" Other filters narrow it too.");
    } else if (narrowing.length === 1) {
      message = ["Nothing in this time range matches the filter ", el("strong", { text: `${narrowing[0].label}: ${narrowing[0].value}` }), "."];
      offer(`Remove the ${narrowing[0].label} filter`, narrowing[0].next, true);
    } else if (narrowing.length > 1) {
      message = [`Nothing in this time range matches all ${narrowing.length} filters together. Remove one, or all of them.`];
      const time = { range: filters.range, since: filters.since, until: filters.until };
      offer("Remove the filters", { ...Object.fromEntries(SINGLE.map((n) => [n, ""])), action: [], extra: [], reads: filters.reads, ...time }, true);
    } else {
      // Nothing narrows it but the time: the range is the likely cause.
      const wider = filters.range !== "90d";
      message = [filters.reads === "show" ? "Nothing was recorded in this time range." : "Nothing was recorded in this time range (reads of the log are hidden)."];
      if (wider) offer("Show the last 90 days", { ...filters, range: "90d", since: "", until: "" }, true);
      if (filters.reads !== "show") offer("Show log reads", { ...filters, reads: "show" }, !wider);
    }
    $("empty-title").textContent = narrowing.length ? "No events match these filters" : "No events in this time range";
    $("empty-message").replaceChildren(...message);
    $("empty-actions").replaceChildren(...actions);
    $("empty-actions").hidden = actions.length === 0;
  }

  // ---- notices -----------------------------------------------------------

  /**
   * An API message as text with its `backticked` names as code elements,
   * starting with a capital letter. Built node by node: never markup.
   */
  function richText(message) {
    const parts = message.split("`");
    // An unpaired backtick is kept as a character.
    if (parts.length % 2 === 0) {
      const last = parts.pop();
      parts[parts.length - 1] += "`" + last;
    }
    if (parts[0]) parts[0] = parts[0][0].toUpperCase() + parts[0].slice(1);
    const nodes = [];
    parts.forEach((part, i) => {
      if (i % 2 === 1) nodes.push(el("code", { text: part }));
      else if (part) nodes.push(part);
    });
    if (!/[.!?]\s*$/.test(message)) nodes.push(".");
    return nodes;
  }

  function showNotice(kind, title, message, actions) {
    const notice = $("notice");
    notice.className = "notice notice-" + kind;
    $("notice-title").textContent = title;
    $("notice-message").replaceChildren(...(Array.isArray(message) ? message : [message]));
    $("notice-actions").replaceChildren(...(actions || []));
    notice.hidden = false;
  }

  function hideNotice() {
    $("notice").hidden = true;
    $("workspace").hidden = false;
  }

  function showApiError(status, body) {
    const error = body && typeof body.error === "object" && body.error ? body.error : {};
    const message = typeof error.message === "string" ? error.message : "";
    // To the application's sign-in, which brings the reader back here.
    const signIn = (id, label, primary) => {
      const url = new URL(signInUrl.href);
      url.searchParams.set("next", location.pathname + location.search);
      const link = el("a", { class: primary ? "button primary" : "button", id }, label);
      link.href = url.href;
      return link;
    };
    if (status === 401) {
      $("workspace").hidden = true;
      const actions = signInUrl ? [signIn("sign-in", "Sign in", true)] : [];
      showNotice("auth", "You are not signed in",
        signInUrl ? "Sign in to read the audit log; you will come back to this page." : "Sign in to the application in this browser, then reload this page.",
        actions);
      $("status").textContent = "";
      setState("unauthorized");
      return;
    }
    if (status === 403) {
      $("workspace").hidden = true;
      showNotice("denied", "You may not read the audit log",
        [...richText(message || "Your account lacks a role that may read audit logs."),
          signInUrl ? " Another account may; sign in with it to come back here." : ""].filter(Boolean),
        signInUrl ? [signIn("switch-account", "Switch account", true)] : []);
      $("status").textContent = "";
      setState("forbidden");
      return;
    }
    if (status === 400) {
      const param = typeof error.param === "string" ? error.param : "";
      // The message names the parameter first (`since` …): named once, by the label the reader sees.
      const named = param && message.startsWith("`" + param + "` ");
      const label = named ? LABELS[param] : null;
      const text = message || "A parameter is invalid.";
      const explained = label ? [el("strong", { text: label }), ": ", ...richText(named ? message.slice(param.length + 3) : text)] : richText(text);
      const actions = [];
      const filter = activeFilters(filters).find((f) => f.param === param || (f.time && (param === "since" || param === "until")));
      if (filter) {
        const what = filter.time ? `Back to the ${RANGE_NAMES[DEFAULT_RANGE]}` : `Remove the ${label || filter.label} filter`;
        const remove = el("button", { type: "button", class: "primary", id: "remove-bad-filter" }, what);
        remove.addEventListener("click", () => apply(filter.next));
        actions.push(remove);
      }
      showError("These filters cannot be used", explained, false, actions);
      markInvalid(param);
      return;
    }
    showError(`The audit log could not be loaded (HTTP ${status})`, message || "The server did not say why.", true);
  }

  /** Marks the control of `param` invalid, unfolding the filters to show it. */
  function markInvalid(param) {
    const control = inputs[param] || (param.startsWith("actor_") ? inputs.actor : null)
      || (param === "action" ? $("actions-button") : null)
      || [...document.querySelectorAll("#chips .chip")].find((chip) => chip.dataset.param === param);
    if (!control) return;
    control.setAttribute("aria-invalid", "true");
    if (control.closest(".collapsed")) setFiltersOpen(true);
    control.focus();
  }

  function showError(title, message, retry, extra) {
    const actions = extra ? [...extra] : [];
    if (retry) {
      const again = el("button", { type: "button", class: "primary" }, "Try again");
      again.addEventListener("click", () => load(false));
      actions.push(again);
    }
    showNotice("error", title, message, actions);
    $("rows").replaceChildren();
    shown = 0;
    $("load-more").hidden = true;
    $("empty").hidden = true;
    // No rows: no table and no empty frame, only the notice.
    $("results").hidden = true;
    setExports(false);
    $("status").textContent = "";
    setState("error");
  }

  // ---- rendering ---------------------------------------------------------

  const text = (value) => (value === null || value === undefined ? "" : String(value));

  function relative(date, now) {
    const seconds = Math.round((now - date) / 1000);
    if (seconds < 45) return seconds < -45 ? "in the future" : "just now";
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return `${minutes} min ago`;
    const hours = Math.round(minutes / 60);
    if (hours < 24) return `${hours} h ago`;
    const days = Math.round(hours / 24);
    if (days < 45) return `${days} day${days === 1 ? "" : "s"} ago`;
    return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
  }

  function timeCell(at) {
    const date = new Date(at);
    if (Number.isNaN(date.getTime())) return el("span", { text: text(at) });
    const local = date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
    return el("time", { datetime: text(at), title: text(at), class: "when" },
      el("span", { class: "relative", "data-at": text(at), text: relative(date, Date.now()) }),
      el("span", { class: "absolute", text: local }));
  }

  const CATEGORIES = ["create", "update", "delete", "access", "auth", "other"];
  const OUTCOMES = ["success", "failure", "denied"];
  const SEVERITIES = ["info", "notice", "warning", "critical"];
  const known = (value, list) => (list.includes(value) ? value : "other");

  function badge(kind, value, list, label) {
    return el("span", { class: `badge ${kind}-${known(value, list)}`, title: label || null, text: text(value) || "—" });
  }

  function actorName(actor) {
    return text(actor.name) || text(actor.email) || text(actor.id) || "—";
  }

  function actorCell(actor) {
    const kind = text(actor?.kind);
    const mark = el("span", { class: "kind kind-" + (ACTOR_KINDS[kind] ? kind : "other"), title: ACTOR_KINDS[kind] || kind }, ACTOR_KINDS[kind] || kind || "?");
    const who = el("span", { class: "actor-name", title: [text(actor?.id), text(actor?.email)].filter(Boolean).join(" · "), text: actorName(actor || {}) });
    return el("span", { class: "actor" }, mark, " ", who);
  }

  function shortId(id) {
    const value = text(id);
    return value.length > 14 ? value.slice(0, 12) + "…" : value;
  }

  const targetKey = (target) => text(target.type) + "\u0000" + text(target.id);

  function isDeleted(event) {
    return event.category === "delete" || (event.target && deletedTargets.has(targetKey(event.target)));
  }

  function resourceCell(event) {
    const target = event.target;
    if (!target) return el("span", { class: "muted", text: "—" });
    const parts = [el("span", { class: "resource-type", text: text(target.type) }), " ",
      el("span", { class: "mono resource-id", title: text(target.id), text: shortId(target.id) })];
    if (target.name) parts.push(el("span", { class: "resource-name", text: text(target.name) }));
    if (isDeleted(event)) parts.push(" ", el("span", { class: "badge deleted", title: "This resource was deleted; shown as the event recorded it", text: "deleted" }));
    return el("span", { class: "resource" }, ...parts);
  }

  function renderEvent(event) {
    if (!event || typeof event !== "object") return [];
    // Newest first: a deletion is listed before the older events of its resource.
    if (event.category === "delete" && event.target && event.outcome === "success") deletedTargets.add(targetKey(event.target));
    const serial = ++rowSerial;
    const actor = event.actor || {};
    const context = event.context || {};
    const toggle = el("button", {
      type: "button", class: "toggle", "aria-expanded": "false", "aria-controls": "details-" + serial,
      "aria-label": `Details of ${text(event.action)} by ${actorName(actor)}`,
    }, el("span", { class: "chevron", "aria-hidden": "true" }));
    const row = el("tr", { class: "row", "data-id": text(event.id) },
      el("td", { class: "c-toggle" }, toggle),
      el("td", { "data-col": "time", "data-label": "Time" }, timeCell(event.occurred_at)),
      el("td", { "data-col": "action", "data-label": "Action" }, actionBadge(event)),
      el("td", { "data-col": "actor", "data-label": "Actor" }, actorCell(actor)),
      el("td", { "data-col": "resource", "data-label": "Resource" }, resourceCell(event)),
      el("td", { "data-col": "description", "data-label": "Description", class: "description" }, text(event.description) || (event.reason ? text(event.reason) : "—")),
      el("td", { "data-col": "ip", "data-label": "Client IP", class: "mono" }, text(context.client_ip) || "—"),
      el("td", { "data-col": "outcome", "data-label": "Outcome" }, badge("outcome", event.outcome, OUTCOMES, event.reason ? text(event.reason) : null)),
      el("td", { "data-col": "severity", "data-label": "Severity" }, badge("sev", event.severity, SEVERITIES)));
    const details = el("tr", { class: "details", id: "details-" + serial, hidden: true },
      el("td", { colspan: String(COLUMNS.length + 1) }));
    let built = false;
    const flip = () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      if (open && !built) {
        details.firstChild.append(renderDetails(event));
        built = true;
      }
      toggle.setAttribute("aria-expanded", String(open));
      row.classList.toggle("open", open);
      details.hidden = !open;
    };
    toggle.addEventListener("click", flip);
    row.addEventListener("click", (click) => {
      if (click.target.closest("button, a, input, select, summary")) return;
      if (String(window.getSelection?.() || "")) return; // selecting text, not opening
      flip();
    });
    return [row, details];
  }

  function actionBadge(event) {
    return el("span", { class: "badge cat-" + known(event.category, CATEGORIES), title: "category: " + text(event.category), text: text(event.action) });
  }

  function pair(term, value, attrs) {
    if (value === null || value === undefined || value === "") return [];
    return [el("dt", { text: term }), el("dd", attrs || {}, value instanceof Node ? value : String(value))];
  }

  function pivot(label, next) {
    const button = el("button", { type: "button", class: "link" }, label);
    button.addEventListener("click", () => apply(next));
    return button;
  }

  function withExtra(name, value) {
    return { ...filters, extra: [...filters.extra.filter(([n]) => n !== name), [name, value]] };
  }

  function renderDetails(event) {
    const actor = event.actor || {};
    const context = event.context || {};
    const target = event.target || null;
    const integrity = event.integrity || {};
    const box = el("div", { class: "detail-grid" });

    const who = el("section", { class: "detail-card" }, el("h3", { text: "Who" }), el("dl", {},
      ...pair("Actor", actorName(actor)),
      ...pair("Kind", ACTOR_KINDS[actor.kind] || text(actor.kind)),
      ...pair("Actor id", text(actor.id), { class: "mono" }),
      ...pair("Email", text(actor.email)),
      ...pair("Roles", Array.isArray(actor.roles) && actor.roles.length ? actor.roles.map(text).join(", ") : ""),
      ...pair("Tenant", text(event.tenant_id) || "none (global)")));
    const what = el("section", { class: "detail-card" }, el("h3", { text: "What" }), el("dl", {},
      ...pair("Action", text(event.action), { class: "mono" }),
      ...pair("Category", text(event.category)),
      ...pair("Outcome", text(event.outcome)),
      ...pair("Reason", text(event.reason)),
      ...pair("Severity", text(event.severity)),
      ...pair("Resource", target ? resourceDetail(event) : "none"),
      ...(Array.isArray(event.targets) ? event.targets.flatMap((t, i) => pair(i === 0 ? "Also affected" : "", `${text(t?.type)} ${text(t?.id)}${t?.name ? " (" + text(t.name) + ")" : ""}`)) : []),
      ...pair("Description", text(event.description))));
    const where = el("section", { class: "detail-card" }, el("h3", { text: "When and from where" }), el("dl", {},
      ...pair("Occurred", text(event.occurred_at), { class: "mono" }),
      ...pair("Recorded", text(event.recorded_at), { class: "mono" }),
      ...pair("Client IP", text(context.client_ip), { class: "mono" }),
      ...pair("Peer IP", context.peer_ip ? `${text(context.peer_ip)}${context.ip_source ? " (client IP from " + text(context.ip_source) + ")" : ""}` : "", { class: "mono" }),
      ...pair("User agent", text(context.user_agent), { class: "wrap" }),
      ...pair("Request id", text(context.request_id), { class: "mono" }),
      // Sent by the client, so unverified: shown, never offered as a pivot.
      ...pair("Client's request id", text(context.client_request_id), { class: "mono" }),
      // From the request's traceparent header: links to the trace elsewhere.
      ...pair("Trace", [text(context.trace_id), text(context.span_id)].filter(Boolean).join(" / span "), { class: "mono" }),
      ...pair("Request", [text(context.method), text(context.route)].filter(Boolean).join(" "), { class: "mono" }),
      ...pair("Status", text(context.status))));
    box.append(who, what, where);

    const wide = el("div", { class: "detail-wide" });
    wide.append(renderChanges(event.changes));
    const metadata = event.metadata && typeof event.metadata === "object" && Object.keys(event.metadata).length ? event.metadata : null;
    wide.append(el("section", { class: "detail-card" }, el("h3", { text: "Metadata" }),
      metadata ? el("pre", { class: "json", text: JSON.stringify(metadata, null, 2) }) : el("p", { class: "muted", text: "None recorded." })));
    const flags = [];
    if (event.truncated) flags.push("Some values were too long and were cut (truncated).");
    if (event.lossy_utf8) flags.push("Some header bytes were not UTF-8 and were replaced.");
    wide.append(el("section", { class: "detail-card" }, el("h3", { text: "Integrity" }), el("dl", {},
      ...pair("Event id", text(event.id), { class: "mono" }),
      ...pair("Stream", text(integrity.stream), { class: "mono" }),
      ...pair("Sequence", text(integrity.seq), { class: "mono", "data-field": "seq" }),
      ...pair("Leaf hash", text(integrity.leaf_hash), { class: "mono wrap", "data-field": "leaf-hash" })),
      ...flags.map((flag) => el("p", { class: "muted", text: flag })),
      event.id ? verifyPanel(text(event.id)) : null));

    const links = el("p", { class: "detail-links" });
    const id = text(event.id);
    if (id) links.append(apiLink("/" + encodeURIComponent(id), "Open this event as JSON", { class: "event-link" }));
    if (context.request_id) links.append(pivot("All events of this request", withExtra("request_id", text(context.request_id))));
    if (actor.id) links.append(pivot("Everything by this actor", { ...filters, actor_id: text(actor.id), actor_email: "" }));
    if (target && target.id) links.append(pivot("Everything on this resource", { ...filters, target_type: text(target.type), target_id: text(target.id) }));
    if (context.client_ip) links.append(pivot("Everything from this IP", withExtra("ip", text(context.client_ip))));
    return el("div", { class: "detail" }, box, wide, links);
  }

  // ---- verifying an event against its signed checkpoint -----------------
  //
  // The browser recomputes the event's leaf hash and walks its audit path to
  // the root of the signed checkpoint the API hands out. It cannot check the
  // checkpoint's signature: the server does when it holds the log's key
  // (`signature_checked_by`), and `audit verify-event` does offline.

  /**
   * RFC 8785 (JCS) text of a value as JSON.parse gave it: numbers as
   * ECMAScript writes them (-0 as 0), strings as JSON.stringify escapes
   * them, object members sorted by UTF-16 code units (the default sort).
   */
  function jcs(value) {
    if (value === null || typeof value === "boolean") return String(value);
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new Error("not a JSON number");
      return String(value);
    }
    if (typeof value === "string") return JSON.stringify(value);
    if (Array.isArray(value)) return "[" + value.map(jcs).join(",") + "]";
    return "{" + Object.keys(value).sort().map((key) => JSON.stringify(key) + ":" + jcs(value[key])).join(",") + "}";
  }

  /** Whether JSON.parse may have rounded one of the value's integers (beyond 2^53). */
  function hasInexactInteger(value) {
    if (typeof value === "number") return Number.isInteger(value) && !Number.isSafeInteger(value);
    return value !== null && typeof value === "object" && Object.values(value).some(hasInexactInteger);
  }

  const LEAF = Uint8Array.of(0);
  const NODE = Uint8Array.of(1);

  async function sha256(...parts) {
    const all = new Uint8Array(parts.reduce((length, part) => length + part.length, 0));
    let at = 0;
    for (const part of parts) {
      all.set(part, at);
      at += part.length;
    }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  }

  const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const sameBytes = (a, b) => a.length === b.length && a.every((byte, i) => byte === b[i]);

  /** Standard base64 of a 32-byte hash, or null. */
  function hashOf(base64) {
    try {
      const bytes = Uint8Array.from(atob(String(base64)), (c) => c.charCodeAt(0));
      return bytes.length === 32 ? bytes : null;
    } catch (_) {
      return null;
    }
  }

  /** A stream as its checkpoint origin ends: printable ASCII but %, + and / kept, the rest %XX. */
  function originOfStream(stream) {
    let out = "";
    for (const byte of new TextEncoder().encode(stream)) {
      const kept = byte > 0x20 && byte < 0x7f && byte !== 0x25 && byte !== 0x2b && byte !== 0x2f;
      out += kept ? String.fromCharCode(byte) : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
    }
    return out;
  }

  /** Origin, size and root of a signed checkpoint note's text, or null. */
  function readCheckpoint(note) {
    const end = typeof note === "string" ? note.indexOf("\n\n") : -1;
    if (end < 0) return null;
    const [origin, size, root] = note.slice(0, end).split("\n");
    const hash = hashOf(root);
    if (!origin || !/^[0-9]+$/.test(size || "") || !hash) return null;
    return { origin, size: BigInt(size), root: hash };
  }

  /** The root an RFC 9162 §2.1.3.2 audit path leads to from `leaf`, or null. */
  async function rootOfPath(leaf, index, size, path) {
    if (index >= size) return null;
    let fn = index;
    let sn = size - 1n;
    let root = leaf;
    for (const sibling of path) {
      if (sn === 0n) return null;
      if ((fn & 1n) === 1n || fn === sn) {
        root = await sha256(NODE, sibling, root);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        root = await sha256(NODE, root, sibling);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n ? root : null;
  }

  /** Checks a proof the API gave; what it found, as the mark shows it. */
  async function checkProof(id, proof) {
    const fail = (why, computed) => ({ result: "failed", title: "Does not verify", detail: why, computed });
    const event = proof && typeof proof.event === "object" ? proof.event : null;
    const integrity = event && event.integrity && typeof event.integrity === "object" ? event.integrity : null;
    if (!integrity || text(event.id) !== id) return fail("the answer is not a proof of this event.");
    const copy = structuredClone(event);
    delete copy.integrity.leaf_hash;
    const leaf = await sha256(LEAF, new TextEncoder().encode(jcs(copy)));
    const computed = toHex(leaf);
    if (computed !== integrity.leaf_hash) {
      if (hasInexactInteger(event)) {
        return { result: "cannot-check", title: "This browser cannot check this event",
          detail: "it holds integers beyond 2^53, which JavaScript cannot read exactly. Check it offline with audit verify-event.", computed };
      }
      return fail("the event's content does not hash to its leaf hash: it was changed after it was recorded.", computed);
    }
    const checkpoint = readCheckpoint(proof.checkpoint);
    if (!checkpoint) return fail("the checkpoint is not a signed checkpoint text.", computed);
    const stream = text(integrity.stream);
    if (!checkpoint.origin.endsWith("/" + originOfStream(stream))) {
      return fail(`the checkpoint is of ${checkpoint.origin}, not of the event's stream ${stream}.`, computed);
    }
    const numbers = [proof.leaf_index, proof.tree_size, integrity.seq];
    if (!numbers.every(Number.isSafeInteger)) return fail("the proof's leaf index, tree size or seq is not a whole number.", computed);
    const [index, size, seq] = numbers.map(BigInt);
    if (size !== checkpoint.size) return fail(`the proof is for a tree of ${size} events; the checkpoint signs ${checkpoint.size}.`, computed);
    if (index !== seq - 1n) return fail(`leaf ${index} is not the place of the event at seq ${seq}.`, computed);
    const path = Array.isArray(proof.audit_path) ? proof.audit_path.map(hashOf) : [null];
    if (path.includes(null)) return fail("the audit path holds something other than hashes.", computed);
    const root = await rootOfPath(leaf, index, size, path);
    if (!root || !sameBytes(root, checkpoint.root)) return fail("the audit path does not lead to the checkpoint's root hash.", computed);
    if (typeof proof.server_verify_error === "string") return fail("the server's check with the log's key: " + proof.server_verify_error, computed);
    return { result: "verified", title: `Verified: in the signed tree of ${size} events`, detail: "", computed };
  }

  /** Fetches event `id`'s proof and checks it here. */
  async function verifyEvent(id) {
    let response;
    let body;
    try {
      response = await fetch(`${apiBase}/${encodeURIComponent(id)}/proof`, { credentials: "same-origin", headers: { accept: "application/json" } });
      body = await response.json().catch(() => null);
    } catch (_) {
      return { result: "error", title: "The proof could not be loaded", detail: "the server could not be reached." };
    }
    const message = typeof body?.error?.message === "string" ? body.error.message : "";
    if (response.status === 409) return { result: "not-checkpointed", title: "Not covered by a checkpoint yet", detail: message };
    if (!response.ok) return { result: "error", title: `The proof could not be loaded (HTTP ${response.status})`, detail: message || "the server did not say why." };
    if (!window.crypto || !crypto.subtle) {
      return { result: "cannot-check", title: "This browser cannot check proofs here",
        detail: "it offers no WebCrypto to pages served over plain HTTP from another host. Check it offline with audit verify-event." };
    }
    try {
      const found = await checkProof(id, body);
      found.signer = typeof body.signature_checked_by === "string" ? body.signature_checked_by : null;
      return found;
    } catch (error) {
      return { result: "error", title: "The proof could not be checked", detail: String(error && error.message || error) };
    }
  }

  /** What the mark can and cannot say about the checkpoint's signature. */
  function signatureNote(signer) {
    const offline = el("code", { text: "audit verify-event" });
    if (signer) {
      return ["The checkpoint's signature was checked on the server with the key ", el("code", { text: signer }),
        "; the browser cannot check signatures. To check it yourself, save the proof and run ", offline, " with the log's verifier key."];
    }
    return ["The checkpoint's signature is not checked here: the browser cannot, and this server holds no verifier key. Check it offline with ",
      offline, " and the log's verifier key."];
  }

  function verifyPanel(id) {
    const button = el("button", { type: "button", class: "verify-button" }, "Verify");
    const mark = el("p", { class: "verify-mark", role: "status", "aria-live": "polite" });
    const details = el("div", { class: "verify-details" });
    const panel = el("div", { class: "verify", "data-result": "idle" },
      el("p", { class: "muted", text: "Check in this browser that this event is unchanged and in its stream's latest signed checkpoint." }),
      button, mark, details);
    button.addEventListener("click", async () => {
      button.disabled = true;
      panel.dataset.result = "checking";
      mark.replaceChildren("Checking…");
      details.replaceChildren();
      const found = await verifyEvent(id);
      panel.dataset.result = found.result;
      const icon = found.result === "verified" ? "✓" : found.result === "failed" ? "✕" : "!";
      mark.replaceChildren(...el("span", {}, el("span", { class: "verify-icon", "aria-hidden": "true", text: icon }), " ",
        el("strong", { class: "verify-title", text: found.title }),
        found.detail ? ": " : null, found.detail ? el("span", { class: "verify-why", text: found.detail }) : null).childNodes);
      if (found.computed) {
        details.append(el("dl", {}, ...pair("Leaf hash computed here", found.computed, { class: "mono wrap", "data-field": "computed-leaf-hash" })));
      }
      if (found.result === "verified" || found.result === "failed" || found.result === "cannot-check") {
        details.append(el("p", { class: "muted verify-signature" }, ...signatureNote(found.signer)));
        details.append(el("p", {}, apiLink(`/${encodeURIComponent(id)}/proof`, "Open the proof as JSON", { class: "proof-link" })));
      }
      button.disabled = false;
      button.textContent = "Verify again";
    });
    return panel;
  }

  function resourceDetail(event) {
    const target = event.target;
    const span = el("span", {}, `${text(target.type)} `, el("span", { class: "mono", text: text(target.id) }));
    if (target.name) span.append(` (${text(target.name)})`);
    if (isDeleted(event)) span.append(" ", el("span", { class: "badge deleted", text: "deleted" }));
    return span;
  }

  // ---- before / after ----------------------------------------------------

  const pointerSegment = (key) => String(key).replace(/~/g, "~0").replace(/\//g, "~1");

  /** Leaf values by JSON Pointer, in document order. */
  function flatten(value, path, out) {
    if (value && typeof value === "object" && Object.keys(value).length) {
      const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value).sort();
      for (const key of keys) flatten(value[key], path + "/" + pointerSegment(key), out);
    } else if (value !== undefined) {
      out.set(path, value);
    }
    return out;
  }

  const show = (value) => (value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value));

  function renderChanges(changes) {
    const section = el("section", { class: "detail-card changes" }, el("h3", { text: "Changes" }));
    const before = changes ? changes.before : null;
    const after = changes ? changes.after : null;
    if ((before === null || before === undefined) && (after === null || after === undefined)) {
      section.append(el("p", { class: "muted", text: "No before/after state recorded." }));
      return section;
    }
    const old = before === null || before === undefined ? new Map() : flatten(before, "", new Map());
    const now = after === null || after === undefined ? new Map() : flatten(after, "", new Map());
    const diff = Array.isArray(changes.diff) ? changes.diff.map((d) => text(d && d.path)) : null;
    const changed = (path) => diff
      ? diff.some((d) => d === path || path.startsWith(d + "/") || d.startsWith(path + "/"))
      : show(old.get(path)) !== show(now.get(path));
    const paths = [...new Set([...old.keys(), ...now.keys()])].sort();
    const table = el("table", { class: "diff" },
      el("caption", { class: "visually-hidden", text: "Fields before and after; changed fields are marked" }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Field" }), el("th", { scope: "col", text: "Before" }), el("th", { scope: "col", text: "After" }))));
    const body = el("tbody");
    let count = 0;
    for (const path of paths) {
      const isChanged = changed(path);
      if (isChanged) count++;
      const had = old.has(path);
      const has = now.has(path);
      const mark = isChanged ? (had && !has ? "removed" : !had && has ? "added" : "changed") : "";
      body.append(el("tr", { class: isChanged ? "changed " + mark : "same", "data-path": path },
        el("th", { scope: "row", class: "mono" }, path === "" ? "(whole value)" : path.slice(1), isChanged ? el("span", { class: "change-mark", text: mark }) : null),
        el("td", { class: "mono old" }, had ? show(old.get(path)) : el("span", { class: "muted", text: "—" })),
        el("td", { class: "mono new" }, has ? show(now.get(path)) : el("span", { class: "muted", text: "—" }))));
    }
    table.append(body);
    section.append(el("p", { class: "muted", text: `${count} field${count === 1 ? "" : "s"} changed` }), table);
    const raw = el("details", { class: "raw" }, el("summary", { text: "Before and after as JSON" }),
      el("div", { class: "raw-pair" },
        el("div", {}, el("h4", { text: "Before" }), el("pre", { class: "json", text: before === null || before === undefined ? "null" : JSON.stringify(before, null, 2) })),
        el("div", {}, el("h4", { text: "After" }), el("pre", { class: "json", text: after === null || after === undefined ? "null" : JSON.stringify(after, null, 2) }))));
    section.append(raw);
    return section;
  }

  // ---- columns -----------------------------------------------------------

  function hiddenColumns() {
    try {
      const stored = JSON.parse(localStorage.getItem(COLUMNS_KEY) || "[]");
      return new Set(Array.isArray(stored) ? stored.filter((c) => COLUMNS.some(([name]) => name === c)) : []);
    } catch (_) {
      return new Set();
    }
  }

  function applyColumns(hidden) {
    for (const [name] of COLUMNS) $("events").classList.toggle("hide-" + name, hidden.has(name));
  }

  function buildColumnChooser() {
    const hidden = hiddenColumns();
    const list = $("columns-list");
    for (const [name, label] of COLUMNS) {
      const input = el("input", { type: "checkbox", value: name, "data-column": name });
      input.checked = !hidden.has(name);
      input.addEventListener("change", () => {
        const now = hiddenColumns();
        if (input.checked) now.delete(name);
        else now.add(name);
        try {
          localStorage.setItem(COLUMNS_KEY, JSON.stringify([...now]));
        } catch (_) {
          // Private mode: the choice lasts this visit.
        }
        applyColumns(now);
      });
      list.append(el("label", { class: "column-option" }, input, " ", label));
    }
    applyColumns(hidden);
  }

  // ---- wiring ------------------------------------------------------------

  function resetFilters() {
    apply({ range: DEFAULT_RANGE, action: [], extra: [], reads: "hide", ...Object.fromEntries(SINGLE.map((n) => [n, ""])) });
  }

  function setFiltersOpen(open) {
    $("filters-toggle").setAttribute("aria-expanded", String(open));
    $("filters").classList.toggle("collapsed", !open);
  }

  let typing = null;
  function applyForm() {
    clearTimeout(typing);
    typing = null;
    apply(formFilters());
  }

  function start() {
    buildColumnChooser();
    fillForm();
    const form = $("filters");
    form.addEventListener("submit", (submit) => {
      submit.preventDefault();
      applyForm();
    });
    for (const name of ["category", "severity", "outcome"]) inputs[name].addEventListener("change", applyForm);
    for (const name of ["actor", "target_type", "target_id", "q"]) {
      inputs[name].addEventListener("input", () => {
        clearTimeout(typing);
        setState("pending");
        typing = setTimeout(applyForm, 450);
      });
      inputs[name].addEventListener("change", () => {
        if (typing) applyForm();
      });
    }
    for (const name of ["since", "until"]) {
      inputs[name].addEventListener("change", () => {
        const value = inputs[name].value;
        const date = value ? new Date(value) : null;
        if (date && Number.isNaN(date.getTime())) return;
        const next = formFilters();
        if (name === "since") {
          // From a preset, the end stays "now"; a typed start is absolute.
          next.since = date ? iso(date) : "";
        } else {
          next.until = date ? iso(date) : "";
          if (next.range) next.since = iso(new Date(asOf.getTime() - RANGES[next.range]));
        }
        next.range = null;
        if (!next.since && !next.until) next.range = DEFAULT_RANGE;
        apply(next);
      });
    }
    for (const button of document.querySelectorAll(".preset")) {
      button.addEventListener("click", () => apply({ ...formFilters(), range: button.dataset.range, since: "", until: "" }));
    }
    $("hide-reads").addEventListener("change", () => apply({ ...formFilters(), reads: $("hide-reads").checked ? "hide" : "show" }));
    $("refresh").addEventListener("click", () => apply(formFilters()));
    $("reset").addEventListener("click", resetFilters);
    $("load-more").addEventListener("click", () => load(true));
    $("filters-toggle").addEventListener("click", () => setFiltersOpen($("filters-toggle").getAttribute("aria-expanded") !== "true"));
    if (window.matchMedia && window.matchMedia("(max-width: 720px)").matches) setFiltersOpen(false);
    $("actions-button").addEventListener("click", () => openActions($("actions-panel").hidden));
    $("actions-done").addEventListener("click", () => {
      openActions(false);
      $("actions-button").focus();
    });
    $("actions-clear").addEventListener("click", () => apply({ ...filters, action: [] }, { keepPanel: true }));
    $("actions-search").addEventListener("input", renderActionsList);
    $("actions-search").addEventListener("keydown", (key) => {
      if (key.key === "Enter") key.preventDefault();
    });
    document.addEventListener("keydown", (key) => {
      if (key.key === "Escape" && !$("actions-panel").hidden) {
        openActions(false);
        $("actions-button").focus();
      }
    });
    document.addEventListener("click", (click) => {
      if (!$("actions-panel").hidden && !click.target.closest(".actions-field")) openActions(false);
    });
    window.addEventListener("popstate", () => {
      filters = readUrl();
      asOf = new Date();
      fillForm();
      load(false);
      loadActions();
    });
    setInterval(() => {
      const now = Date.now();
      for (const span of document.querySelectorAll(".relative[data-at]")) {
        const date = new Date(span.dataset.at);
        if (!Number.isNaN(date.getTime())) span.textContent = relative(date, now);
      }
    }, 30000);
    load(false);
    loadActions();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
