// The demo page: one column per persona, kept in step with the demo by long polling.
// Everything people typed is put into the page as text (textContent), never as HTML.
(() => {
  "use strict";

  const config = JSON.parse(document.getElementById("demo-config").textContent);
  const labels = config.labels;
  const query = "?lang=" + encodeURIComponent(config.lang);
  const columns = new Map();
  let version = null;
  let nightNumber = null;
  let playing = false;
  let nightBusy = false;
  let whatsappKey = null;  // the attendee on WhatsApp: the event's wa.me link opens her chat

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function button(text, className, onClick) {
    const node = el("button", className, text);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  // -- talking to the demo -------------------------------------------------------------

  async function post(path, body) {
    let response;
    try {
      response = await fetch(path + query, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body || {}),
      });
    } catch (error) {
      setOffline(true);
      return null;
    }
    setOffline(false);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      toast(data.error || response.statusText, true);
      return null;
    }
    render(data);
    return data;
  }

  async function poll() {
    for (;;) {
      try {
        const after = version ? "&after=" + encodeURIComponent(version) : "";
        const response = await fetch("/api/state" + query + after);
        if (!response.ok) throw new Error(response.statusText);
        render(await response.json());
        setOffline(false);
      } catch (error) {
        setOffline(true);
        await sleep(2000);
      }
    }
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function setOffline(offline) {
    document.getElementById("offline").hidden = !offline;
  }

  // -- notices (the bot's answers to taps, and errors) -----------------------------------

  function toast(text, alert, column) {
    const host = column ? column.notice : document.body;
    const box = el("div", alert ? "toast alert" : "toast", text);
    box.setAttribute("role", alert ? "alert" : "status");
    if (alert) {
      box.append(button(labels.ok, "ok", () => box.remove()));
    } else {
      setTimeout(() => box.remove(), 4000);
    }
    host.append(box);
  }

  // -- rendering -------------------------------------------------------------------------

  function render(state) {
    if (!state || !state.personas) return;
    version = state.version;
    if (nightNumber !== null && state.night !== nightNumber) {
      for (const column of columns.values()) forgetChat(column);
    }
    nightNumber = state.night;
    document.getElementById("clock").textContent = state.clock;
    const event = document.querySelector(".night .event");
    event.textContent = "";
    event.append(el("strong", null, state.event.name), " · " + state.event.venue + " · ",
                 el("span", "label", labels.doors + " "), state.event.doors);
    const coming = document.getElementById("coming");
    coming.textContent = "";
    if (state.next && !state.night_over) {
      coming.append(el("span", "label", labels.coming + " · " + state.next.at + " "),
                    state.next.text);
    }
    // Once the night is over, the controls say so and offer a new one instead.
    for (const id of ["play", "next", "later"]) {
      document.getElementById(id).hidden = state.night_over;
    }
    document.getElementById("over").hidden = !state.night_over;
    document.getElementById("new-night").hidden = !state.night_over;
    const log = document.getElementById("log");
    log.textContent = "";
    for (const entry of state.log.slice().reverse()) {
      const item = el("li");
      item.append(el("time", null, entry.at), " " + entry.text);
      log.append(item);
    }
    for (const persona of state.personas) {
      if (persona.channel === "whatsapp") whatsappKey = persona.key;
      renderPersona(persona);
    }
    if (state.night_over && playing) setPlaying(false);
  }

  function renderPersona(persona) {
    let column = columns.get(persona.key);
    if (!column) column = createColumn(persona);
    updateMessages(column, persona.chat.messages);
    const extras = JSON.stringify([persona.chat.keyboard, persona.suggestions]);
    if (column.extras !== extras) {
      column.extras = extras;
      renderKeyboard(column, persona.chat.keyboard);
      renderSuggestions(column, persona.suggestions);
    }
    if (column.stick) toBottom(column);
    const notice = persona.chat.notice;
    if (notice && notice.id !== column.notified) {
      if (column.notified !== undefined) toast(notice.text, notice.alert, column);
      column.notified = notice.id;
    } else if (!notice && column.notified === undefined) {
      column.notified = null;
    }
  }

  // A new night: new chats, whose messages reuse the old ones' ids.
  function forgetChat(column) {
    for (const entry of column.messages.values()) entry.node.remove();
    column.messages.clear();
    column.notified = undefined;
    column.extras = undefined;
    column.stick = true;
  }

  function toBottom(column) {
    column.list.scrollTop = column.list.scrollHeight;
    column.ownScroll = column.list.scrollTop;
  }

  // Messages are kept in place and replaced only when they change (an edit), so the reader's
  // scroll position and the buttons she is about to click stay put.
  function updateMessages(column, messages) {
    const shown = column.messages;
    const wanted = new Set(messages.map((message) => message.id));
    for (const [id, entry] of shown) {
      if (!wanted.has(id)) {
        entry.node.remove();
        shown.delete(id);
      }
    }
    let previous = null;
    for (const message of messages) {
      const json = JSON.stringify(message);
      let entry = shown.get(message.id);
      if (!entry || entry.json !== json) {
        const node = renderMessage(column, message);
        if (entry) entry.node.replaceWith(node);
        entry = { node, json };
        shown.set(message.id, entry);
      }
      const expected = previous ? previous.nextSibling : column.inner.firstChild;
      if (expected !== entry.node) column.inner.insertBefore(entry.node, expected);
      previous = entry.node;
    }
    column.empty.hidden = messages.length > 0;
  }

  function createColumn(persona) {
    const root = el("section", "column " + persona.role + " " + persona.channel);
    root.id = "persona-" + persona.key;
    const head = el("header", "who");
    const role = [persona.role_label, persona.channel_label, persona.language.toUpperCase()];
    head.append(el("strong", null, persona.name),
                el("span", "role", role.filter(Boolean).join(" · ")));
    const list = el("div", "messages");
    const inner = el("div", "inner");
    inner.setAttribute("aria-live", "polite");
    list.append(inner);
    const empty = el("p", "empty", labels.empty);
    const notice = el("div", "notices");
    const suggestions = el("div", "suggestions");
    const keyboard = el("div", "keyboard");
    const form = el("form", "composer");
    const input = el("input");
    input.type = "text";
    input.maxLength = 4096;
    input.placeholder = labels.placeholder;
    input.setAttribute("aria-label", labels.placeholder + " (" + persona.name + ")");
    const places = el("div", "places");
    places.hidden = true;
    places.setAttribute("role", "menu");
    for (const place of config.locations) {
      places.append(button("📍 " + place.label, "place", async () => {
        places.hidden = true;
        await post("/api/personas/" + persona.key + "/location", { place: place.key });
      }));
    }
    const pin = button(labels.location, "tool", () => { places.hidden = !places.hidden; });
    pin.title = labels.location_title;
    const sticker = button("🦄", "tool", () =>
      post("/api/personas/" + persona.key + "/sticker", {}));
    sticker.title = labels.sticker_title;
    sticker.setAttribute("aria-label", labels.sticker_title);
    const send = el("button", "send", labels.send);
    send.type = "submit";
    form.append(input, send);
    form.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      const text = input.value;
      if (!text.trim()) return;
      input.value = "";
      const done = await post("/api/personas/" + persona.key + "/text", { text });
      if (!done) input.value = text;
    });
    const tools = el("div", "tools");
    tools.append(pin, sticker);
    root.append(head, empty, list, notice, suggestions, keyboard, places, tools, form);
    document.getElementById("columns").append(root);
    const tab = button(persona.name, "tab", () =>
      root.scrollIntoView({ behavior: "smooth", inline: "start", block: "nearest" }));
    document.getElementById("tabs").append(tab);
    const column = {
      key: persona.key, root, list, inner, empty, notice, suggestions, keyboard, places,
      messages: new Map(), stick: true,
    };
    // Follow new messages while she reads the end of her chat, also when the layout changes
    // (fonts, the buttons under the list); not when she scrolled up to read older ones.
    list.addEventListener("scroll", () => {
      if (list.scrollTop === column.ownScroll) return;  // ours, seen after a reflow
      column.stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    });
    const follow = new ResizeObserver(() => {
      if (column.stick) toBottom(column);
    });
    follow.observe(inner);
    follow.observe(list);
    columns.set(persona.key, column);
    return column;
  }

  function renderMessage(column, message) {
    const bubble = el("div", message.from_bot ? "message bot" : "message me");
    if (message.text) bubble.append(renderText(column, message.text));
    if (message.location) {
      bubble.append(el("div", "location", "📍 " + message.location.join(", ")));
    }
    if (message.sticker) bubble.append(el("div", "sticker", message.sticker));
    if (message.image) {
      const image = el("img", "image");
      image.src = "/api/files/" + encodeURIComponent(message.image);
      image.alt = "";
      bubble.prepend(image);
    }
    if (message.document) {
      bubble.append(el("div", "document", "📄 " + labels.document.replace("{name}", message.document)));
    }
    if (message.contact) bubble.append(el("div", "document", "👤 " + labels.contact));
    const meta = el("div", "meta");
    if (message.edited) meta.append(el("span", "edited", labels.edited));
    if (message.at) meta.append(el("time", null, message.at));
    bubble.append(meta);
    if (!message.buttons) return bubble;
    const wrapper = el("div", message.from_bot ? "with-buttons bot" : "with-buttons me");
    const grid = el("div", "inline-keyboard");
    for (const row of message.buttons) {
      const line = el("div", "row");
      for (const key of row) {
        if (key.href) {
          line.append(boardLink(key.text, key.href, "inline"));
          continue;
        }
        if (key.location) {  // WhatsApp's "send location": the page's places
          line.append(button(labels.location, "inline", () => { column.places.hidden = false; }));
          continue;
        }
        const tap = button(key.text, "inline", async () => {
          tap.disabled = true;  // one tap, as in Telegram while the bot answers
          const done = key.start
            ? await post("/api/personas/" + column.key + "/text", { text: "/start " + key.start })
            : await post("/api/personas/" + column.key + "/tap",
                         { message_id: message.id, button: key.index });
          if (!done) tap.disabled = false;
        });
        if (!key.tap && !key.start) tap.disabled = true;
        line.append(tap);
      }
      grid.append(line);
    }
    wrapper.append(bubble, grid);
    return wrapper;
  }

  function renderText(column, pieces) {
    const text = el("div", "text");
    for (const piece of pieces) {
      let node;
      if (piece.start) {
        node = button(piece.t, "link", () =>
          post("/api/personas/" + column.key + "/text", { text: "/start " + piece.start }));
        node.title = labels.open_link;
      } else if (piece.wa && whatsappKey) {
        node = button(piece.t, "link", () =>
          post("/api/personas/" + whatsappKey + "/text", { text: piece.wa }));
        node.title = labels.open_whatsapp;
      } else if (piece.href) {
        node = boardLink(piece.t, piece.href, "link");
      } else {
        node = el(piece.code ? "code" : "span", null, piece.t);
      }
      for (const style of ["b", "i", "u", "s", "spoiler", "quote"]) {
        if (piece[style]) node.classList.add("style-" + style);
      }
      text.append(node);
    }
    return text;
  }

  // The live board, served by the demo itself: a path on this server, in a new tab.
  function boardLink(text, path, className) {
    const link = el("a", className, text);
    link.href = path + query;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.title = labels.board;
    return link;
  }

  function renderKeyboard(column, rows) {
    column.keyboard.textContent = "";
    if (!rows) return;
    for (const row of rows) {
      const line = el("div", "row");
      for (const key of row) {
        line.append(button(key.text, "reply", () => {
          if (key.location) {
            column.places.hidden = false;
          } else {
            post("/api/personas/" + column.key + "/text", { text: key.text });
          }
        }));
      }
      column.keyboard.append(line);
    }
  }

  function renderSuggestions(column, suggestions) {
    column.suggestions.textContent = "";
    for (const suggestion of suggestions) {
      column.suggestions.append(button(suggestion.label, "chip", () =>
        post("/api/personas/" + column.key + "/text", { text: suggestion.text })));
    }
  }

  // -- the night's clock -----------------------------------------------------------------

  async function moveNight(path, body) {
    if (nightBusy) return null;
    nightBusy = true;
    for (const id of ["next", "later"]) document.getElementById(id).disabled = true;
    try {
      return await post(path, body);
    } finally {
      nightBusy = false;
      for (const id of ["next", "later"]) document.getElementById(id).disabled = playing;
    }
  }

  async function newNight() {
    const start = document.getElementById("new-night");
    start.disabled = true;
    start.textContent = labels.starting;
    try {
      await moveNight("/api/night/new", {});
    } finally {
      start.disabled = false;
      start.textContent = labels.new_night;
    }
  }

  function setPlaying(on) {
    playing = on;
    const play = document.getElementById("play");
    play.textContent = on ? labels.pause : labels.play;
    play.setAttribute("aria-pressed", on ? "true" : "false");
    for (const id of ["next", "later"]) document.getElementById(id).disabled = on;
    if (on) playLoop();
  }

  async function playLoop() {
    while (playing) {
      const state = await moveNight("/api/night/next", {});
      if (!state || state.night_over) break;
      await sleep(1800);
    }
    if (playing) setPlaying(false);
  }

  document.getElementById("play").addEventListener("click", () => setPlaying(!playing));
  document.getElementById("next").addEventListener("click", () => moveNight("/api/night/next", {}));
  document.getElementById("later").addEventListener("click", () =>
    moveNight("/api/night/advance", { minutes: 15 }));
  document.getElementById("new-night").addEventListener("click", newNight);

  render(config.state);
  poll();
})();
