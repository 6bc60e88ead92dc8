// The web page of `inboxkit-mock serve`: polls the control API and renders the journal.
// All data goes into the page through textContent, never parsed as HTML.
"use strict";

(function () {
  const POLL_MS = 1000;
  const PAGE_SIZE = 50;
  const TOKEN_KEY = "inboxkit-mock.admin-token";

  const $ = (id) => document.getElementById(id);

  const view = {
    page: 0, // 0 = the newest deliveries
    total: 0,
    selected: null,
    listKey: "",
    detailKey: "",
    open: new Set(), // attempt numbers whose details the user opened or closed
    touched: new Set(),
  };

  /** Why a control call failed, with the HTTP status when there was one. */
  class ApiFailure extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (token()) headers.Authorization = "Bearer " + token();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiFailure(0, "The server does not answer (" + error.message + ").");
    }
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (_) {
      json = null;
    }
    if (!response.ok) {
      const detail = json && (json.detail || json.title);
      throw new ApiFailure(response.status, detail || response.status + " " + response.statusText);
    }
    return json;
  }

  function banner(message) {
    const el = $("banner");
    el.textContent = message || "";
    el.hidden = !message;
  }

  function notice(message, isError) {
    const el = $("notice");
    el.textContent = message || "";
    el.classList.toggle("error", Boolean(isError));
  }

  /** Shows a failed call: a 401 asks for the admin token, anything else says what happened. */
  function failed(error) {
    if (error.status === 401) {
      banner(
        token()
          ? "401 Unauthorized: the admin token entered is not the one this server was started with (serve --admin-token)."
          : "401 Unauthorized: this server was started with --admin-token. Enter the token above to see and send events."
      );
    } else {
      banner(error.message);
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function badge(value) {
    return el("span", "badge badge-" + String(value || "none").replace(/[^a-z0-9_]/gi, ""), value || "—");
  }

  function latency(ms) {
    if (ms === null || ms === undefined) return "—";
    return ms < 10 ? ms.toFixed(1) + " ms" : Math.round(ms) + " ms";
  }

  /** `2024-01-10T15:30:45.123Z` -> `15:30:45`: the full time is in the cell's title. */
  function clockTime(iso) {
    const match = /T(\d\d:\d\d:\d\d)/.exec(iso || "");
    return match ? match[1] : iso || "—";
  }

  // ---- clock ----

  async function refreshClock() {
    const clock = await api("GET", "/_mock/clock");
    const state = clock.paused ? "paused" : "running ×" + clock.scale;
    $("clock").textContent = "clock " + state + " · " + clock.now;
    $("clock").classList.toggle("paused", clock.paused);
  }

  // ---- list ----

  function listQuery(offset) {
    const params = new URLSearchParams({ offset: String(offset), limit: String(PAGE_SIZE) });
    const event = $("filter-event").value;
    if (event) params.set("event", event);
    return "/_mock/deliveries?" + params.toString();
  }

  /** The journal lists oldest first: the newest page starts PAGE_SIZE from the end. */
  async function fetchPage() {
    const offsetFor = (total) => Math.max(0, total - (view.page + 1) * PAGE_SIZE);
    let answer = await api("GET", listQuery(offsetFor(view.total)));
    if (answer.offset !== offsetFor(answer.total)) {
      answer = await api("GET", listQuery(offsetFor(answer.total)));
    }
    return answer;
  }

  async function refreshList() {
    const answer = await fetchPage();
    view.total = answer.total;
    const rows = answer.deliveries.slice().reverse();
    const key = JSON.stringify([rows, view.selected, answer.total]);
    if (key === view.listKey) return;
    view.listKey = key;

    const pages = Math.max(1, Math.ceil(answer.total / PAGE_SIZE));
    if (view.page >= pages) view.page = pages - 1;
    $("newer").disabled = view.page === 0;
    $("older").disabled = view.page >= pages - 1;
    $("count").textContent = answer.total
      ? "newest first · " + (answer.total - answer.offset - rows.length + 1) + "–" +
        (answer.total - answer.offset) + " of " + answer.total
      : "";
    $("empty").hidden = answer.total !== 0;

    const body = $("deliveries");
    const fresh = rows.map((d) => {
      const row = el("tr", d.id === view.selected ? "selected" : "");
      row.dataset.id = d.id;
      row.dataset.state = d.state;
      row.tabIndex = 0;
      const state = el("td");
      state.append(badge(d.state));
      const what = el("td");
      what.append(el("span", "mono", d.event), el("span", "sub mono", d.entity_uid || "—"));
      what.title = d.event + "\n" + (d.entity_uid || "");
      const status = el("td");
      status.append(el("span", "", d.status || "—"), el("span", "sub", d.previous_status ? "from " + d.previous_status : "\u00a0"));
      status.title = (d.previous_status ? d.previous_status + " → " : "") + (d.status || "");
      const outcome = el("td");
      outcome.append(badge(d.last_outcome));
      const time = el("td", "mono muted", clockTime(d.created_at));
      time.title = d.created_at;
      row.append(
        state,
        what,
        status,
        el("td", "num attempts", d.attempts),
        outcome,
        el("td", "num", latency(d.last_latency_ms)),
        time
      );
      for (const cell of row.cells) if (!cell.title) cell.title = cell.textContent;
      return row;
    });
    body.replaceChildren(...fresh);
  }

  // ---- detail ----

  function headerTable(headers) {
    const table = el("table", "headers");
    for (const [name, value] of headers || []) {
      const row = el("tr");
      row.append(el("th", "mono", name), el("td", "mono", value));
      table.append(row);
    }
    return table;
  }

  function block(title, ...children) {
    const section = el("section", "message");
    section.append(el("h4", "", title), ...children);
    return section;
  }

  function attemptView(attempt, body, isLast) {
    const details = el("details", "attempt");
    details.dataset.number = attempt.number;
    details.dataset.trigger = attempt.trigger;
    details.open = view.touched.has(attempt.number) ? view.open.has(attempt.number) : isLast;
    details.addEventListener("toggle", () => {
      view.touched.add(attempt.number);
      if (details.open) view.open.add(attempt.number);
      else view.open.delete(attempt.number);
    });

    const summary = el("summary");
    summary.append(
      el("span", "attempt-no", "#" + attempt.number),
      badge(attempt.outcome),
      el("span", "muted", attempt.trigger === "manual" ? "manual redelivery" : "scheduled"),
      el("span", "muted mono", attempt.started_at),
      el("span", "num", latency(attempt.latency_ms))
    );
    details.append(summary);

    const request = block(
      "Request",
      el("p", "mono line", "POST " + attempt.url),
      headerTable(attempt.request_headers),
      el("pre", "body request-body", body)
    );
    const response = attempt.response;
    const answer = response
      ? block(
          "Response",
          el("p", "mono line response-status", "HTTP " + response.status),
          headerTable(response.headers),
          el("pre", "body response-body", response.body === "" ? "(empty body)" : response.body),
          response.body_truncated ? el("p", "muted", "Body truncated by the journal's cap.") : el("span")
        )
      : block("Response", el("p", "error-text", attempt.error || "No answer."));
    details.append(request, answer);
    if (attempt.error && response) details.append(el("p", "error-text", attempt.error));
    if (attempt.next_attempt_at) {
      details.append(el("p", "muted", "Next scheduled attempt at " + attempt.next_attempt_at + " (simulated)."));
    }
    return details;
  }

  function fact(list, name, value) {
    list.append(el("dt", "", name), el("dd", "mono", value === null || value === undefined ? "—" : value));
  }

  async function refreshDetail() {
    if (!view.selected) {
      $("detail-empty").hidden = false;
      $("detail-body").hidden = true;
      return;
    }
    let record;
    try {
      record = await api("GET", "/_mock/deliveries/" + encodeURIComponent(view.selected));
    } catch (error) {
      if (error.status !== 404) throw error;
      // Evicted from the bounded journal, or gone after a reset.
      notice("Delivery " + view.selected + " is no longer in the journal.", true);
      view.selected = null;
      view.detailKey = "";
      return refreshDetail();
    }
    const key = JSON.stringify(record);
    if (key === view.detailKey) return;
    view.detailKey = key;

    $("detail-empty").hidden = true;
    $("detail-body").hidden = false;
    $("detail-title").textContent = record.event;
    const facts = $("detail-facts");
    facts.replaceChildren();
    const state = el("dd");
    state.append(badge(record.state));
    facts.append(el("dt", "", "state"), state);
    fact(facts, "delivery", record.id);
    fact(facts, "entity", record.entity_uid);
    fact(facts, "status", record.previous_status ? record.previous_status + " → " + record.status : record.status);
    fact(facts, "target", record.target);
    fact(facts, "created", record.created_at);
    const attempts = record.attempts.map((a, i) => attemptView(a, record.body, i === record.attempts.length - 1));
    $("attempts").replaceChildren(...attempts.reverse());
  }

  function select(id) {
    if (view.selected !== id) {
      view.selected = id;
      view.detailKey = "";
      view.open.clear();
      view.touched.clear();
    }
    for (const row of $("deliveries").rows) row.classList.toggle("selected", row.dataset.id === id);
    refreshDetail().catch(failed);
  }

  // ---- actions ----

  async function trigger(event) {
    event.preventDefault();
    const button = $("trigger");
    const body = { event: $("trigger-event").value };
    const uid = $("trigger-uid").value.trim();
    if (uid) body.uid = uid;
    button.disabled = true;
    try {
      const answer = await api("POST", "/_mock/events", body);
      notice("Sent " + body.event + " as delivery " + answer.delivery_id + ".");
      view.page = 0;
      await refreshList();
      select(answer.delivery_id);
    } catch (error) {
      if (error.status === 401) failed(error);
      notice("Trigger failed: " + error.message, true);
    } finally {
      button.disabled = false;
    }
  }

  async function redeliver() {
    if (!view.selected) return;
    const button = $("redeliver");
    button.disabled = true;
    try {
      const answer = await api("POST", "/_mock/deliveries/" + encodeURIComponent(view.selected) + "/redeliver");
      notice("Redelivered " + answer.delivery_id + ": attempt #" + answer.attempt.number + " → " + answer.attempt.outcome + ".");
      await refreshDetail();
      await refreshList();
    } catch (error) {
      if (error.status === 401) failed(error);
      notice("Redelivery failed: " + error.message, true);
    } finally {
      button.disabled = false;
    }
  }

  // ---- polling ----

  async function poll() {
    try {
      await refreshClock();
      await refreshList();
      await refreshDetail();
      banner("");
    } catch (error) {
      failed(error);
    }
  }

  async function loop() {
    if (!document.hidden) await poll();
    setTimeout(loop, POLL_MS);
  }

  function start() {
    $("token").value = token();
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
      view.listKey = "";
      view.detailKey = "";
      poll();
    });
    $("token-clear").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      $("token").value = "";
      poll();
    });
    $("trigger-form").addEventListener("submit", trigger);
    $("filter-event").addEventListener("change", () => {
      view.page = 0;
      poll();
    });
    $("redeliver").addEventListener("click", redeliver);
    $("newer").addEventListener("click", () => {
      view.page = Math.max(0, view.page - 1);
      poll();
    });
    $("older").addEventListener("click", () => {
      view.page += 1;
      poll();
    });
    const rows = $("deliveries");
    rows.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row) select(row.dataset.id);
    });
    rows.addEventListener("keydown", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (row && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        select(row.dataset.id);
      }
    });
    loop();
  }

  start();
})();
