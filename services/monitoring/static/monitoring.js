/* Schakel monitoring pages: the user's key in sessionStorage, keyed JSON fetches, the live
   feed (Server-Sent Events from /v1/live) and the charts. Plain browser JavaScript, no build. */
(function () {
  "use strict";
  var KEY = "schakel-api-key";
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function table(caption, headers, rows) {
    if (!rows.length) return el("p", {"class": "utrecht-paragraph", text: caption + ": geen gegevens."});
    var head = el("tr", {"class": "utrecht-table__row"}, headers.map(function (h) {
      return el("th", {"class": "utrecht-table__header-cell", scope: "col", text: h});
    }));
    var body = rows.map(function (cells) {
      return el("tr", {"class": "utrecht-table__row"}, cells.map(function (c) {
        var td = el("td", {"class": "utrecht-table__cell"});
        if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? "–" : String(c);
        return td;
      }));
    });
    return el("div", {"class": "schakel-table-wrap"}, [el("table", {"class": "utrecht-table"}, [
      el("caption", {"class": "utrecht-table__caption", text: caption}),
      el("thead", {"class": "utrecht-table__header"}, [head]),
      el("tbody", {"class": "utrecht-table__body"}, body)])]);
  }

  function fill(id, node) { var box = $(id); box.replaceChildren(node); }

  // "1 jeugdige wacht", "2 jeugdigen wachten": Dutch readers notice a plural after a one.
  function count(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function since(iso) {
    if (!iso) return "onbekend";
    var minutes = Math.round((Date.now() - new Date(iso).getTime()) / 60000);
    if (minutes < 1) return "zojuist";
    if (minutes < 120) return minutes + " min geleden";
    var hours = Math.round(minutes / 60);
    return hours < 48 ? hours + " uur geleden" : Math.round(hours / 24) + " dagen geleden";
  }

  function duration(seconds) {
    var hours = Math.floor(seconds / 3600);
    if (hours >= 24) return Math.floor(hours / 24) + " d " + (hours % 24) + " u";
    return hours + " u " + Math.floor((seconds % 3600) / 60) + " min";
  }

  function dateTime(iso) {
    return iso ? new Date(iso).toLocaleString("nl-NL", {dateStyle: "short", timeStyle: "short"}) : "–";
  }

  // --- the key, entered once per browser session -----------------------------------------

  function signIn(onKey) {
    var form = $("sleutel-formulier");
    function show() {
      var key = sessionStorage.getItem(KEY);
      $("sleutel").hidden = !!key;
      $("aangemeld").hidden = !key;
      if (key) onKey(key);
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sessionStorage.setItem(KEY, $("sleutel-invoer").value.trim());
      $("sleutel-invoer").value = "";
      show();
    });
    $("afmelden").addEventListener("click", function () { sessionStorage.removeItem(KEY); location.reload(); });
    show();
  }

  function refuseKey(detail) {
    sessionStorage.removeItem(KEY);
    $("sleutel").hidden = false;
    $("aangemeld").hidden = true;
    $("sleutel-melding").textContent = "Deze sleutel geeft geen toegang: " + detail;
  }

  // A key that is refused (401, or 403 unless ``lenient``) is forgotten; with ``lenient`` a 403 only
  // rejects with ``forbidden`` set: the key may see other parts of the page.
  function fetchJson(url, key, lenient) {
    return fetch(url, {headers: {"Authorization": "Bearer " + key}}).then(function (response) {
      if (response.status === 401 || response.status === 403) {
        return response.json().then(function (body) {
          var error = new Error(body.detail);
          if (response.status === 403 && lenient) error.forbidden = true;
          else refuseKey(body.detail);
          throw error;
        });
      }
      if (!response.ok) throw new Error("status " + response.status);
      return response.json();
    });
  }

  // --- live feed ---------------------------------------------------------------------------

  function live(onUpdate) {
    var source = new EventSource("/v1/live");
    source.addEventListener("update", function (event) {
      $("live-status").textContent = "Live: bijgewerkt om " + new Date().toLocaleTimeString("nl-NL");
      onUpdate(JSON.parse(event.data));
    });
    source.onerror = function () { $("live-status").textContent = "Live verbinding onderbroken; opnieuw verbinden…"; };
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  // --- the pool view: a tile per member region and pooled setting, own region first ------

  function poolTile(pool, setting, r, config) {
    var state = config.stateLabels[r.state] || r.state;
    var children = [el("h5", {"class": "schakel-tile__name", text: r.title})];
    if (r.own) children.push(el("p", {"class": "schakel-tile__own", text: "Eigen regio"}));
    if (r.state === "onbekend") {
      children.push(el("p", {"class": "schakel-tile__state", text: state}),
        el("p", {"class": "schakel-tile__detail", text: "Deze regio heeft nog geen plekken aan de pool gemeld."}));
    } else {
      children.push(
        el("p", {"class": "schakel-tile__free"}, [el("span", {"class": "schakel-tile__number", text: String(r.free)}),
          " van " + r.total + " vrij"]),
        el("p", {"class": "schakel-tile__state", "data-shortage": r.shortage_since ? "open" : "geen",
          text: r.shortage_since ? "Tekort sinds " + dateTime(r.shortage_since) : state}),
        el("p", {"class": "schakel-tile__detail", text: count(r.reserved, "plek gereserveerd", "plekken gereserveerd") +
          ", " + count(r.providers.length, "aanbieder", "aanbieders")}),
        el("p", {"class": "schakel-tile__detail", text: "Gemeld: " + since(r.last_updated)}));
    }
    return el("li", {"class": "schakel-tile schakel-tile--" + r.state + (r.own ? " schakel-tile--eigen" : ""),
      "data-pool": pool.name, "data-region": r.region, "data-setting": setting.setting, "data-state": r.state,
      "data-own": r.own ? "ja" : "nee"}, children);
  }

  function poolSetting(pool, setting, config) {
    var label = config.settingLabels[setting.setting] || setting.setting;
    var short = setting.regions_in_shortage === 0 ? "geen regio met een tekort" :
      count(setting.regions_in_shortage, "regio met een tekort", "regio's met een tekort");
    return el("div", {"class": "schakel-pool__setting", "data-pool-setting": setting.setting}, [
      el("h4", {"class": "utrecht-heading-4", text: label}),
      el("p", {"class": "utrecht-paragraph schakel-pool__totals", text: "In de pool " + setting.free + " van " +
        count(setting.total, "plek", "plekken") + " vrij, " + setting.reserved + " gereserveerd; " + short + "."}),
      el("ul", {"class": "schakel-tiles", "aria-label": label + " per regio"},
        setting.regions.map(function (r) { return poolTile(pool, setting, r, config); }))]);
  }

  function renderPools(data, config) {
    $("pools").hidden = false;
    $("pools-status").textContent = data.pools.length ? "" : "Deze regio doet niet mee aan een pool.";
    var box = $("pool-tegels");
    box.replaceChildren.apply(box, data.pools.map(function (pool) {
      return el("div", {"class": "schakel-pool", "data-pool": pool.name}, [
        el("h3", {"class": "utrecht-heading-3", text: pool.title})].concat(
        pool.settings.map(function (setting) { return poolSetting(pool, setting, config); })));
    }));
  }

  // --- dashboard ---------------------------------------------------------------------------

  function dashboard(config) {
    var charts = {};
    var currentKey = null;

    function renderTiles(tiles) {
      var list = $("tegels");
      if (!tiles.length) return;
      list.replaceChildren.apply(list, tiles.map(function (t) {
        var rate = t.occupancy_rate === null ? "" : " (" + Math.round(t.occupancy_rate * 100) + "%)";
        return el("li", {"class": "schakel-tile schakel-tile--" + t.state, "data-setting": t.setting, "data-state": t.state}, [
          el("h3", {"class": "schakel-tile__name", text: config.settingLabels[t.setting] || t.setting}),
          el("p", {"class": "schakel-tile__free"}, [el("span", {"class": "schakel-tile__number", text: String(t.free)}), " vrij"]),
          el("p", {"class": "schakel-tile__state", text: config.stateLabels[t.state]}),
          el("p", {"class": "schakel-tile__detail", text: t.occupied + " van " + t.total + " bezet" + rate}),
          el("p", {"class": "schakel-tile__detail", text: "Gemeld: " + since(t.last_report_at)})]);
      }));
    }

    function renderShortages(shortages) {
      var box = $("tekorten");
      box.replaceChildren.apply(box, shortages.map(function (s) {
        return el("div", {"class": "utrecht-alert utrecht-alert--warning", "data-shortage": s.setting}, [
          el("p", {"class": "utrecht-paragraph"}, [el("strong", {text: (s.severity === "kritiek" ? "Kritiek tekort " : "Tekort ") + (config.settingLabels[s.setting] || s.setting) + ": "}),
            count(s.free_places, "vrije plek", "vrije plekken") + ", " +
            count(s.waiting, "jeugdige wacht", "jeugdigen wachten") + " met spoed; sinds " +
            dateTime(s.detected_at) + " (" + duration(s.duration_seconds) + ")."])]);
      }));
    }

    function number(v) { return typeof v === "number" ? v : null; }  // "<5" is left out of a chart

    function chart(id, type, labels, datasets) {
      if (charts[id]) charts[id].destroy();
      charts[id] = new Chart($(id), {type: type, data: {labels: labels, datasets: datasets},
        options: {responsive: true, animation: false, spanGaps: false,
          plugins: {legend: {labels: {font: {size: 14}}}}, scales: {y: {beginAtZero: true}}}});
    }

    function renderFigures(data) {
      var t = data.totals;
      var wait = data.trend.length ? data.trend[data.trend.length - 1].waiting : null;
      var totals = [["Verwijzingen", t.referrals_in], ["Zorg gestart", t.care_started], ["Zorg beëindigd", t.care_ended],
        ["Uitval (voortijdig)", t.uitval], ["In zorg einde periode", t.in_care_at_month_end],
        ["Wachttijd mediaan laatste maand", wait && wait.median_days !== null ? count(wait.median_days, "dag", "dagen") : "–"]];
      var dl = $("totalen");
      dl.replaceChildren.apply(dl, totals.map(function (pair) {
        return el("div", {}, [el("dt", {text: pair[0]}), el("dd", {text: String(pair[1])})]);
      }));
      var months = data.trend.map(function (m) { return m.month; });
      chart("grafiek-stroom", "line", months, [
        {label: "Verwijzingen", data: data.trend.map(function (m) { return number(m.referrals_in); }), borderColor: "#01689b", backgroundColor: "#01689b"},
        {label: "Zorg gestart", data: data.trend.map(function (m) { return number(m.care_started); }), borderColor: "#2b7a3d", backgroundColor: "#2b7a3d", borderDash: [6, 3]},
        {label: "Zorg beëindigd", data: data.trend.map(function (m) { return number(m.care_ended); }), borderColor: "#b3261e", backgroundColor: "#b3261e", borderDash: [2, 2]}]);
      fill("tabel-stroom", table("Instroom en uitstroom per maand", ["Maand", "Verwijzingen", "Gestart", "Beëindigd", "Uitval", "In zorg einde maand"],
        data.trend.map(function (m) { return [m.month, m.referrals_in, m.care_started, m.care_ended, m.uitval, m.in_care_at_month_end]; })));
      chart("grafiek-wachttijd", "line", months, [
        {label: "Mediaan", data: data.trend.map(function (m) { return m.waiting ? m.waiting.median_days : null; }), borderColor: "#01689b", backgroundColor: "#01689b"},
        {label: "90e percentiel", data: data.trend.map(function (m) { return m.waiting ? m.waiting.p90_days : null; }), borderColor: "#a35a00", backgroundColor: "#a35a00", borderDash: [6, 3]}]);
      fill("tabel-wachttijd", table("Wachttijd per maand", ["Maand", "Jeugdigen", "Mediaan (dagen)", "P90 (dagen)", "Boven maximum"],
        data.trend.filter(function (m) { return m.waiting; }).map(function (m) {
          var w = m.waiting;
          return [m.month, w.youths, w.median_days, w.p90_days, w.share_over_max === null ? w.over_max : Math.round(w.share_over_max * 100) + "%"];
        })));
      var names = data.per_municipality.map(function (m) { return config.municipalities[m.municipality] || m.municipality; });
      chart("grafiek-gemeenten", "bar", names, [{label: "Verwijzingen", backgroundColor: "#01689b",
        data: data.per_municipality.map(function (m) { return number(m.referrals_in); })}]);
      fill("tabel-gemeenten", table("Verwijzingen per gemeente", ["Gemeente", "Verwijzingen"],
        data.per_municipality.map(function (m, i) { return [names[i], m.referrals_in]; })));
      var referrerNames = {"01": "Gemeente", "02": "Huisarts", "03": "Jeugdarts", "04": "Gecertificeerde instelling",
        "05": "Medisch specialist", "06": "Zelfverwijzer", "08": "Rechter / officier van justitie", "veilig_thuis": "Veilig Thuis"};
      fill("tabel-verwijzers", table("Verwijzingen per soort verwijzer", ["Verwijzer", "Verwijzingen"],
        data.referrers.map(function (r) { return [referrerNames[r.referrer] || r.referrer, r.referrals]; })));
      fill("tabel-escalaties", table("Escalaties en hoe ze afliepen", ["Niveau", "Afloop", "Aantal"],
        data.escalations.map(function (e) { return [e.level, e.outcome, e.escalations]; })));
      var kinds = config.doorbraakLabels.kinds;
      fill("tabel-doorbraak", table("Doorbraak: casussen bij het expertteam per maand", ["Maand", "Casussen opgepakt", "Besluiten",
        "Besluiten per soort", "Mediaan dagen tot besluit", "Mediaan dagen tot start zorg"],
        (data.doorbraak || []).map(function (m) {
          var perKind = Object.keys(m.decisions_by_kind).map(function (k) { return (kinds[k] || k) + ": " + m.decisions_by_kind[k]; }).join(", ");
          return [m.month, m.cases_taken_up, m.decisions, perKind || "–", m.to_decision.median_days, m.to_care.median_days];
        })));
      var d = data.declarations;
      fill("tabel-declaraties", table("Declaratieregels per uitkomst en retourcode", ["Uitkomst of retourcode", "Regels"],
        Object.keys(d.by_outcome).map(function (k) { return [k, d.by_outcome[k]]; }).concat(
          Object.keys(d.by_return_code).map(function (k) { return ["Retourcode " + k, d.by_return_code[k]]; }))));
    }

    function query() {
      var params = new URLSearchParams();
      var gemeente = $("filter-gemeente").value, from = $("filter-van").value, to = $("filter-tot").value;
      if (gemeente) params.set("municipality", gemeente);
      if (from) params.set("from", from);
      if (to) params.set("to", to);
      return params.toString();
    }

    // The figures are for gemeenten and operators, the pool view for the schakelfunctie's roles and
    // operators: a key is refused only when it may see neither.
    function load() {
      if (!currentKey) return;
      var figures = fetchJson("/v1/overview?" + query(), currentKey, true).then(function (data) {
        $("cijfers").hidden = false;
        $("cijfers-status").textContent = "Cijfers bijgewerkt om " + new Date().toLocaleTimeString("nl-NL") + ".";
        renderFigures(data);
      }).catch(function (error) {
        if (error.forbidden) { $("cijfers").hidden = true; throw error; }
        $("cijfers-status").textContent = "Cijfers konden niet worden geladen: " + error.message;
      });
      var pools = fetchJson("/v1/pools", currentKey, true).then(function (data) { renderPools(data, config); })
        .catch(function (error) {
          if (error.forbidden) { $("pools").hidden = true; throw error; }
          $("pools").hidden = false;
          $("pools-status").textContent = "De pool kon niet worden geladen: " + error.message;
        });
      Promise.allSettled([figures, pools]).then(function (results) {
        if (results.every(function (r) { return r.status === "rejected"; })) refuseKey(results[0].reason.message);
      });
    }

    var reload = debounce(load, 400);
    $("filters").addEventListener("submit", function (event) { event.preventDefault(); load(); });
    signIn(function (key) { currentKey = key; load(); });
    live(function (state) { renderTiles(state.settings); renderShortages(state.shortages); reload(); });
  }

  // --- schakelfunctie ---------------------------------------------------------------------

  function schakelfunctie(config) {
    var currentKey = null;

    function ackButton(alertId, acknowledgedBy, what) {
      if (acknowledgedBy) return "Bevestigd door " + acknowledgedBy;
      if (!alertId) return "–";
      var button = el("button", {"class": "utrecht-button utrecht-button--secondary-action", type: "button",
        "data-alert": alertId, text: "Bevestigen"});
      button.setAttribute("aria-label", "Bevestig " + what);
      button.addEventListener("click", function () {
        button.disabled = true;
        fetch("/v1/alerts/" + alertId + "/acknowledge", {method: "POST", headers: {"Authorization": "Bearer " + currentKey}})
          .then(function (response) { return response.json().then(function (body) { return [response, body]; }); })
          .then(function (pair) {
            $("inbox-status").textContent = pair[0].ok ? "Bevestigd; de lijst wordt bijgewerkt." : "Niet bevestigd: " + pair[1].detail;
            if (!pair[0].ok) button.disabled = false;
          });
      });
      return button;
    }

    function settingNames(list) { return list.map(function (s) { return config.settingLabels[s] || s; }).join(", "); }
    function place(code) { return config.municipalities[code] || code || "–"; }

    function render(data) {
      $("inbox").hidden = false;
      fill("tabel-tekorten", table("Open tekorten per setting", ["Setting", "Ernst", "Sinds", "Duur", "Vrije plekken", "Wachtend", "Bevestiging"],
        data.shortages.map(function (s) {
          var label = config.settingLabels[s.setting] || s.setting;
          return [label, s.severity, dateTime(s.detected_at), duration(s.duration_seconds), s.free_places, s.waiting,
            ackButton(s.alert_id, s.acknowledged_by || s.acknowledged_role, "tekort " + label)];
        })));
      fill("tabel-wachtenden", table("Jeugdigen die wachten, meest urgent eerst", ["Kenmerk", "Leeftijd", "Setting", "Urgentie", "Gemeente",
        "Dagen wachtend", "Aanbieders geprobeerd", "Geëscaleerd naar"],
        data.waiting.map(function (w) {
          return [w.placement_id.slice(0, 8), w.age, settingNames(w.settings), w.urgency, place(w.municipality),
            w.days_waiting, w.candidates_tried, w.escalated_to || "–"];
        })));
      fill("tabel-escalaties", table("Escalaties, nieuwste eerst", ["Kenmerk", "Niveau", "Urgentie", "Gemeente", "Reden", "Sinds", "Afloop", "Bevestiging"],
        data.escalations.map(function (e) {
          return [e.placement_id.slice(0, 8), e.level, e.urgency, place(e.municipality), e.reason, dateTime(e.escalated_at), e.outcome,
            ackButton(e.alert_id, e.acknowledged_by ? e.acknowledged_by + " (" + e.acknowledged_role + ")" : null,
              "escalatie " + e.placement_id.slice(0, 8))];
        })));
    }

    function day(isoDate) {
      return isoDate ? new Date(isoDate + "T12:00:00").toLocaleDateString("nl-NL") : "–";
    }

    function renderDoorbraak(data) {
      var labels = config.doorbraakLabels;
      $("doorbraak-samenvatting").textContent = data.open_cases === 0 ? "Het expertteam heeft geen open casussen." :
        "Het expertteam heeft " + count(data.open_cases, "open casus", "open casussen") + "; " +
        (data.overdue === 0 ? "geen besluit is te laat." : count(data.overdue, "besluit is", "besluiten zijn") + " te laat.");
      fill("tabel-doorbraak", table("Open casussen van het expertteam, te late besluiten eerst", ["Kenmerk", "Leeftijd", "Gemeente",
        "Setting", "Urgentie", "Stand", "Besluit", "Uitvoerder", "Uiterlijk uitgevoerd", "Overleg", "Dagen sinds escalatie"],
        data.cases.map(function (c) {
          var d = c.decision;
          var stage = labels.stages[c.stage] || c.stage;
          if (c.stage === "te_laat" && d && d.days_overdue !== null) stage += " (" + count(d.days_overdue, "dag", "dagen") + ")";
          var meetings = c.meetings === 0 ? "Nog geen" : count(c.meetings, "keer", "keer") + ", laatst " + day(c.last_meeting_on);
          return [c.placement_id.slice(0, 8), c.age, place(c.municipality), settingNames(c.settings), c.urgency,
            c.stage === "te_laat" ? el("strong", {"data-stage": c.stage, text: stage}) : el("span", {"data-stage": c.stage, text: stage}),
            d ? labels.kinds[d.kind] || d.kind || "–" : "–", d ? labels.executors[d.executor] || d.executor || "–" : "–",
            d ? day(d.due_date) : "–", meetings, c.days_since_escalation];
        })));
    }

    function load() {
      if (!currentKey) return;
      fetchJson("/v1/schakelfunctie", currentKey).then(render)
        .then(function () { return fetchJson("/v1/doorbraak", currentKey); }).then(renderDoorbraak)
        .then(function () { return fetchJson("/v1/pools", currentKey); }).then(function (data) { renderPools(data, config); })
        .catch(function (error) { $("inbox-status").textContent = "Kon de gegevens niet laden: " + error.message; });
    }

    signIn(function (key) { currentKey = key; load(); });
    live(debounce(load, 300));
  }

  window.Schakel = {dashboard: dashboard, schakelfunctie: schakelfunctie, count: count};
})();
