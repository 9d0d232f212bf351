// The organizers' live board: renders the event's state and polls it again every few
// seconds. Every text comes translated from the server; names are set with textContent only.
"use strict";

(function () {
  const body = document.body;
  const stateUrl = body.dataset.state;
  const pollMs = Math.max(1, Number(body.dataset.pollSeconds) || 5) * 1000;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // A count with a tone (waiting for a group, open alerts) is coloured only when not zero.
  function renderCounts(counts, labels) {
    for (const node of document.querySelectorAll("[data-count]")) {
      const value = counts[node.dataset.count];
      if (value === undefined) continue;
      node.textContent = String(value);
      if (node.dataset.tone) node.parentElement.classList.toggle(node.dataset.tone, value > 0);
    }
    // "1 person signed up", "2 people signed up": the label follows the number.
    for (const node of document.querySelectorAll("[data-count-label]")) {
      const label = labels[node.dataset.countLabel];
      if (label !== undefined) node.textContent = label;
    }
  }

  function renderAlerts(alerts) {
    const list = document.getElementById("alerts");
    if (!list) return;
    list.replaceChildren();
    if (!alerts.length) {
      list.append(el("li", "empty", list.dataset.empty));
      return;
    }
    for (const alert of alerts) {
      const item = el("li", "alert level-" + alert.level);
      item.append(el("span", "level", alert.label), el("strong", "name", alert.name));
      item.append(el("span", alert.claimed ? "claimed" : "unclaimed", alert.claim));
      item.append(el("span", "since", alert.since));
      list.append(item);
    }
  }

  // Departures, and online tables drawn the same way (a card per join slot).
  function renderWaves(waves, boxId) {
    const box = document.getElementById(boxId || "waves");
    if (!box) return;
    box.replaceChildren();
    if (!waves.length) {
      box.append(el("p", "empty", box.dataset.empty));
      return;
    }
    for (const wave of waves) {
      const section = el("article", "wave");
      const heading = el("h3");
      heading.append(el("span", "time", wave.time), document.createTextNode(" "),
                     el("span", "point", wave.point));
      section.append(heading);
      const counts = el("ul", "wave-counts");
      for (const count of wave.counts) {
        const item = el("li", "wave-count");
        item.dataset.measure = count.key;
        item.append(el("strong", null, String(count.value)), document.createTextNode(" " + count.label));
        counts.append(item);
      }
      section.append(counts);
      if (!wave.groups.length) section.append(el("p", "empty", box.dataset.noGroups));
      const groups = el("div", "groups");
      for (const group of wave.groups) {
        const card = el("div", "group" + (group.left ? " has-left" : ""));
        card.append(el("h4", null, group.title));
        const members = el("ul", "members");
        for (const member of group.members) {
          const item = el("li", "member state-" + member.state);
          item.dataset.state = member.state;
          item.append(el("span", "icon", member.icon), el("span", "name", member.name),
                      el("span", "status", member.label));
          members.append(item);
        }
        card.append(members);
        if (group.note) card.append(el("p", "note", group.note));
        groups.append(card);
      }
      section.append(groups);
      box.append(section);
    }
  }

  // The latest test alert to the volunteers: who received it, who not yet.
  function renderDrill(drill) {
    const section = document.getElementById("drill");
    if (!section || !drill) return;
    section.hidden = false;
    section.querySelector("h2").textContent = drill.title;
    const list = section.querySelector("ul");
    list.replaceChildren();
    for (const receipt of drill.receipts) {
      list.append(el("li", receipt.acknowledged ? "acknowledged" : "waiting", receipt.text));
    }
  }

  function render(state) {
    if (state.purged) return;
    renderCounts(state.counts, state.count_labels || {});
    renderAlerts(state.alerts);
    renderDrill(state.drill);
    renderWaves(state.waves);
    renderWaves(state.tables || [], "tables");
    setStatus(body.dataset.updated.replace("{time}", state.updated), false);
  }

  function setStatus(text, offline) {
    const status = document.getElementById("updated");
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("offline", offline);
  }

  let timer = null;
  let busy = false;

  // One chain of polls: a tab coming back to the foreground polls at once, not twice.
  async function poll() {
    window.clearTimeout(timer);
    if (busy) return;
    busy = true;
    try {
      const response = await fetch(stateUrl, { cache: "no-store", credentials: "omit" });
      if (!response.ok) throw new Error(String(response.status));
      render(await response.json());
    } catch (error) {
      setStatus(body.dataset.offline, true);
    } finally {
      busy = false;
      timer = window.setTimeout(poll, pollMs);
    }
  }

  const initial = document.getElementById("initial-state");
  if (initial) render(JSON.parse(initial.textContent));
  timer = window.setTimeout(poll, pollMs);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") poll();
  });
})();
