// switchd payment page. Plain JavaScript, no dependencies, no inline code
// (the Content-Security-Policy forbids it). It talks only to the payer
// endpoints under /v1/pay/{token}.
"use strict";
(function () {
  var app = document.getElementById("app");
  var token = app.getAttribute("data-token");
  var T = JSON.parse(document.getElementById("i18n").textContent);
  var api = "/v1/pay/" + encodeURIComponent(token);
  var view = null;
  var timer = null;
  var FINAL = { approved: 1, refused: 1, declined: 1, expired: 1, cancelled: 1, failed: 1 };

  function $(id) { return document.getElementById(id); }
  function show(id, on) { $(id).hidden = !on; }
  function text(id, s) { $(id).textContent = s; }

  function call(method, path, body) {
    var opts = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(api + path, opts).then(function (res) {
      return res.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
        if (!res.ok) {
          var err = new Error("request failed");
          err.status = res.status;
          // A decline carries its reason in decline_code; other
          // problems in code. Either becomes a plain sentence.
          err.code = (data && (data.decline_code || data.code)) || "";
          err.declined = !!(data && data.decline_code);
          err.problem = (data && data.code) || "";
          throw err;
        }
        return data;
      });
    }, function () {
      var err = new Error("network");
      err.code = "network";
      throw err;
    });
  }

  // Plain-words message for an error or decline code; never the raw code.
  // A decline code that has no sentence of its own is a plain decline;
  // any other problem is a generic error.
  function message(code, declined) {
    if (code === "network") return T.err_network;
    return T["decline_" + code] || T["err_" + code] || (declined ? T.decline_default : T.err_generic);
  }

  function formatAmount(minor, currency) {
    var digits = 2;
    try { digits = new Intl.NumberFormat("en", { style: "currency", currency: currency }).resolvedOptions().maximumFractionDigits; } catch (e) { /* unknown currency: keep 2 */ }
    var value = minor / Math.pow(10, digits);
    try {
      return new Intl.NumberFormat(document.documentElement.lang, { style: "currency", currency: currency }).format(value);
    } catch (e) {
      return value.toFixed(digits) + " " + currency;
    }
  }

  // --- order digest, recomputed in the browser (see plugins/sdk/order) ---
  var enc = new TextEncoder();
  function netstring(parts, s) {
    var b = enc.encode(s);
    parts.push(enc.encode(b.length + ":"), b, enc.encode(","));
  }
  function canonical(p) {
    var parts = [enc.encode("switchd-order-v1")];
    var fields = [
      ["payment_id", p.id], ["merchant_id", p.merchant_id], ["acquirer_id", p.acquirer_id],
      ["issuer_id", p.issuer_id || ""], ["amount_minor", String(p.amount_minor)], ["currency", p.currency],
      ["method", p.method || ""], ["order_ref", p.order_ref || ""],
      ["expires_at", String(Math.floor(Date.parse(p.expires_at) / 1000))]
    ];
    fields.forEach(function (f) { netstring(parts, f[0]); netstring(parts, f[1]); });
    var n = 0; parts.forEach(function (x) { n += x.length; });
    var out = new Uint8Array(n), o = 0;
    parts.forEach(function (x) { out.set(x, o); o += x.length; });
    return out;
  }
  function hex(buf) {
    return Array.prototype.map.call(new Uint8Array(buf), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function sha256(bytes) {
    if (!window.crypto || !crypto.subtle) return Promise.reject(new Error("no webcrypto"));
    return crypto.subtle.digest("SHA-256", bytes);
  }
  function fromHex(h) {
    var out = new Uint8Array(h.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
    return out;
  }
  function b64url(buf) {
    var s = btoa(String.fromCharCode.apply(null, new Uint8Array(buf)));
    return s.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function fromB64url(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function checkOrder() {
    var box = $("order-check");
    text("fingerprint", view.digest_hex || "");
    if (!view.digest_hex) { box.hidden = true; return Promise.resolve(true); }
    box.hidden = false;
    return sha256(canonical(view.payment)).then(function (d) {
      var ok = hex(d) === view.digest_hex;
      box.className = "check " + (ok ? "ok" : "bad");
      box.textContent = ok ? T.order_check_ok : T.order_check_bad;
      $("ocra-begin-submit").disabled = !ok;
      $("passkey-use").disabled = !ok;
      $("passkey-enroll").disabled = !ok;
      return ok;
    }, function () { box.hidden = true; return true; });
  }

  // --- rendering ---
  function renderSummary() {
    var p = view.payment;
    text("merchant-name", view.merchant_name || p.merchant_id);
    var ul = $("lines");
    ul.textContent = "";
    (p.lines || []).forEach(function (l) {
      var li = document.createElement("li");
      var a = document.createElement("span");
      a.textContent = (l.quantity > 1 ? l.quantity + " × " : "") + l.name;
      var b = document.createElement("span");
      b.textContent = formatAmount(l.amount_minor * (l.quantity || 1), p.currency);
      li.appendChild(a); li.appendChild(b); ul.appendChild(li);
    });
    if (!(p.lines || []).length && p.description) {
      var li = document.createElement("li");
      li.textContent = p.description;
      ul.appendChild(li);
    }
    text("amount", formatAmount(p.amount_minor, p.currency));
    text("order-ref", p.order_ref || "");
    show("summary", true);
    startCountdown(Date.parse(p.expires_at));
  }

  function startCountdown(deadline) {
    if (timer) clearInterval(timer);
    function tick() {
      var left = Math.max(0, Math.floor((deadline - Date.now()) / 1000));
      var m = Math.floor(left / 60), s = left % 60;
      text("countdown", m + ":" + (s < 10 ? "0" : "") + s);
      $("countdown").parentNode.classList.toggle("urgent", left < 60);
      if (left === 0) {
        clearInterval(timer);
        if (!FINAL[view.payment.state]) refresh();
      }
    }
    tick();
    timer = setInterval(tick, 1000);
  }

  function render() {
    show("loading", false);
    // Past its expiry a payment cannot be paid, whatever state the
    // switch has not yet swept it from.
    if (!FINAL[view.payment.state] && Date.parse(view.payment.expires_at) <= Date.now()) view.payment.state = "expired";
    renderSummary();
    var st = view.payment.state;
    show("method", st === "created");
    show("verify", st === "seller_authenticated");
    show("processing", st === "payer_authenticated" || st === "paid" || st === "method_chosen");
    show("result", !!FINAL[st]);
    if (st === "created") renderMethods();
    if (st === "seller_authenticated") renderVerify();
    if (FINAL[st]) renderResult();
    if (st === "payer_authenticated" || st === "paid" || st === "method_chosen") setTimeout(refresh, 700);
  }

  function renderMethods() {
    var methods = view.methods || [];
    show("choice-card", methods.indexOf("card") >= 0);
    show("choice-bank", methods.indexOf("bank_transfer") >= 0);
    var sel = $("bank-select");
    if (!sel.options.length) {
      var o = document.createElement("option");
      o.value = ""; o.textContent = "—"; sel.appendChild(o);
      (view.banks || []).forEach(function (b) {
        var opt = document.createElement("option");
        opt.value = b.bank_code; opt.textContent = b.name;
        sel.appendChild(opt);
      });
    }
  }

  function renderVerify() {
    var mech = view.mechanism;
    show("ocra", mech === "ocra");
    show("passkey", mech === "webauthn" || mech === "passkey");
    if (mech === "ocra" && !$("client-challenge").value) {
      var r = new Uint32Array(1);
      crypto.getRandomValues(r);
      $("client-challenge").value = String(10000000 + (r[0] % 90000000));
    }
    checkOrder();
  }

  function renderResult() {
    var p = view.payment, st = p.state;
    var ok = st === "approved";
    $("result-icon").className = "icon " + (ok ? "ok" : "bad");
    text("result-title", T["result_" + st] || T.result_failed);
    var detail = "";
    if (ok) detail = T.result_approved_detail;
    else if (st === "expired") detail = T.result_expired_detail;
    else if (st === "declined" || st === "refused") detail = T["final_" + p.decline_code] || message(p.decline_code, true);
    else if (st === "failed") detail = T["decline_" + p.decline_code] || T.result_failed_detail;
    text("result-detail", detail);
    var ret = p.return_url;
    if (ret && /^https?:\/\//.test(ret)) {
      $("return-link").href = ret;
      show("return-link", true);
    }
    if (timer) clearInterval(timer);
    // A finished payment has no time left to pay.
    $("countdown").parentNode.hidden = true;
    $("result-title").focus();
  }

  function setView(v) { view = v; render(); }
  function refresh() {
    return call("GET", "").then(setView, function (err) {
      var box = $("verify-error");
      box.textContent = message(err.code, err.declined);
      box.hidden = false;
    });
  }

  function fail(errId) {
    return function (err) {
      if (err.status === 404 && errId === "load") {
        show("loading", false);
        text("result-title", T.not_found_title);
        text("result-detail", T.not_found);
        $("result-icon").className = "icon bad";
        show("result", true);
        return;
      }
      var box = $(errId === "load" ? "verify-error" : errId);
      box.textContent = message(err.code, err.declined);
      box.hidden = false;
      setBusy(false);
      // Anything but bad input or a rate limit may have moved the payment
      // on (declined, expired, failed): show where it stands now.
      if (err.status && err.status !== 400 && err.status !== 422 && err.status !== 429) refresh();
    };
  }

  var busy = [];
  function setBusy(on, btn) {
    if (on) { btn.disabled = true; btn.setAttribute("aria-busy", "true"); btn.dataset.label = btn.textContent; btn.textContent = T.working; busy.push(btn); return; }
    busy.forEach(function (b) { b.disabled = false; b.removeAttribute("aria-busy"); if (b.dataset.label) b.textContent = b.dataset.label; });
    busy = [];
  }

  // --- step A ---
  function chosen() { var r = document.querySelector("input[name=method]:checked"); return r ? r.value : ""; }
  document.querySelectorAll("input[name=method]").forEach(function (r) {
    r.addEventListener("change", function () {
      show("card-fields", chosen() === "card");
      show("bank-fields", chosen() === "bank_transfer");
      $("method-submit").disabled = false;
      (chosen() === "card" ? $("card-number") : $("bank-select")).focus();
    });
  });
  $("card-number").addEventListener("input", function (e) {
    var d = e.target.value.replace(/\D/g, "").slice(0, 19);
    e.target.value = d.replace(/(\d{4})(?=\d)/g, "$1 ");
  });
  $("card-expiry").addEventListener("input", function (e) {
    var d = e.target.value.replace(/\D/g, "").slice(0, 4);
    e.target.value = d.length > 2 ? d.slice(0, 2) + "/" + d.slice(2) : d;
  });

  function luhn(d) {
    var sum = 0, alt = false;
    for (var i = d.length - 1; i >= 0; i--) {
      var n = d.charCodeAt(i) - 48;
      if (alt) { n *= 2; if (n > 9) n -= 9; }
      sum += n; alt = !alt;
    }
    return sum % 10 === 0;
  }

  $("method-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var err = $("method-error");
    err.hidden = true;
    var m = chosen(), body;
    function bad(msg, field) { err.textContent = msg; err.hidden = false; $(field).focus(); $(field).setAttribute("aria-invalid", "true"); }
    if (m === "card") {
      var num = $("card-number").value.replace(/\D/g, "");
      var ex = /^(\d{2})\/(\d{2})$/.exec($("card-expiry").value);
      if (num.length < 12 || !luhn(num)) return bad(T.err_card_number, "card-number");
      if (!ex || +ex[1] < 1 || +ex[1] > 12) return bad(T.err_card_expiry, "card-expiry");
      body = { method: "card", card: { number: num, expiry_month: +ex[1], expiry_year: 2000 + +ex[2] } };
    } else if (m === "bank_transfer") {
      var bank = $("bank-select").value, acct = $("account-number").value.replace(/[\s-]/g, "");
      if (!bank) return bad(T.err_bank, "bank-select");
      if (!/^[0-9A-Za-z]{4,34}$/.test(acct)) return bad(T.err_account, "account-number");
      body = { method: "bank_transfer", account: { bank_code: bank, account_number: acct } };
    } else return;
    setBusy(true, $("method-submit"));
    call("POST", "/method", body).then(function (v) { setBusy(false); $("card-number").value = ""; setView(v); }, fail("method-error"));
  });

  // --- step C: OCRA, the payer leads ---
  $("ocra-begin").addEventListener("submit", function (e) {
    e.preventDefault();
    $("verify-error").hidden = true;
    setBusy(true, $("ocra-begin-submit"));
    call("POST", "/auth/begin", { client_challenge: $("client-challenge").value.trim() }).then(function (c) {
      setBusy(false);
      var d = c.challenge_data || {};
      text("server-response", d.server_response || "");
      text("server-challenge", d.server_challenge || "");
      text("ocra-suite", d.suite || "");
      text("ocra-nonce", d.nonce || "");
      $("client-challenge").readOnly = true;
      $("ocra-begin-submit").hidden = true;
      show("ocra-proof", true);
      $("client-response").focus();
    }, fail("verify-error"));
  });
  $("ocra-finish").addEventListener("submit", function (e) {
    e.preventDefault();
    var ans = $("client-response").value.trim();
    if (!ans) { var b = $("verify-error"); b.textContent = T.err_answer; b.hidden = false; return; }
    setBusy(true, $("ocra-finish-submit"));
    call("POST", "/auth/finish", { client_response: ans }).then(function (v) { setBusy(false); setView(v); }, function (err) {
      fail("verify-error")(err);
      // A wrong answer spends the challenge: start again from step 1
      // with a fresh challenge (the refresh fills it in), unless the
      // payment is over (the refresh then shows the result).
      $("client-response").value = "";
      $("client-challenge").value = "";
      $("client-challenge").readOnly = false;
      $("ocra-begin-submit").hidden = false;
      show("ocra-proof", false);
    });
  });

  // --- step C: passkey (WebAuthn) ---
  function toCreateOptions(o) {
    var pk = o.publicKey || o;
    pk.challenge = fromB64url(pk.challenge);
    pk.user.id = fromB64url(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
    return { publicKey: pk };
  }
  function toGetOptions(o) {
    var pk = o.publicKey || o;
    pk.challenge = fromB64url(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
    return { publicKey: pk };
  }
  function credJSON(c) {
    var r = c.response, out = { id: c.id, rawId: b64url(c.rawId), type: c.type, response: { clientDataJSON: b64url(r.clientDataJSON) } };
    if (r.attestationObject) out.response.attestationObject = b64url(r.attestationObject);
    if (r.authenticatorData) out.response.authenticatorData = b64url(r.authenticatorData);
    if (r.signature) out.response.signature = b64url(r.signature);
    if (r.userHandle) out.response.userHandle = b64url(r.userHandle);
    if (c.getClientExtensionResults) out.clientExtensionResults = c.getClientExtensionResults();
    return out;
  }
  // Enrolment needs the activation code the bank gave the payer out of
  // band; enroll/begin refuses a wrong one (and a payer who cannot enrol
  // here: locked, or a passkey already set up) as invalid_state.
  $("passkey-enroll-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var box = $("verify-error"), input = $("enrollment-code");
    box.hidden = true;
    function invalid() {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", "enrollment-code-help verify-error");
      input.focus();
    }
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", "enrollment-code-help");
    var code = input.value.trim();
    if (!code) {
      box.textContent = T.err_enrollment_code_missing;
      box.hidden = false;
      invalid();
      return;
    }
    var refused = false;
    setBusy(true, $("passkey-enroll"));
    call("POST", "/enroll/begin", { enrollment_code: code }).then(function (c) {
      input.value = "";
      return navigator.credentials.create(toCreateOptions(c.challenge_data));
    }, function (err) {
      if (err.problem === "invalid_state") { refused = true; err.code = "enrollment_code"; }
      throw err;
    }).then(function (cred) {
      return call("POST", "/enroll/finish", credJSON(cred));
    }).then(function () {
      setBusy(false);
      $("passkey-enroll-form").hidden = true;
      var box = $("passkey-bound");
      box.hidden = false;
      box.className = "check ok";
      box.textContent = T.passkey_enrolled;
      $("passkey-use").focus();
    }, function (err) {
      fail("verify-error")(err);
      if (refused) { invalid(); input.select(); }
    });
  });
  $("passkey-use").addEventListener("click", function () {
    $("verify-error").hidden = true;
    setBusy(true, $("passkey-use"));
    var data;
    call("POST", "/auth/begin", {}).then(function (c) {
      data = c.challenge_data || {};
      // The bank's proof for this order: its challenge must be
      // SHA-256("switchd-passkey-v1" || digest || nonce).
      var tag = enc.encode("switchd-passkey-v1"), dg = fromHex(view.digest_hex || ""), nonce = fromB64url(data.nonce || "");
      var msg = new Uint8Array(tag.length + dg.length + nonce.length);
      msg.set(tag, 0); msg.set(dg, tag.length); msg.set(nonce, tag.length + dg.length);
      return sha256(msg).then(function (h) {
        var pk = data.publicKey || data;
        var ok = b64url(h) === pk.challenge;
        var box = $("passkey-bound");
        box.hidden = false;
        box.className = "check " + (ok ? "ok" : "bad");
        box.textContent = ok ? T.passkey_bound_ok : T.passkey_bound_bad;
        if (!ok) { var e = new Error("unbound"); e.code = "auth_failed"; throw e; }
        return navigator.credentials.get(toGetOptions(data));
      });
    }).then(function (cred) {
      return call("POST", "/auth/finish", credJSON(cred));
    }).then(function (v) { setBusy(false); setView(v); }, fail("verify-error"));
  });

  if (!token) { fail("load")({ status: 404 }); return; }
  call("GET", "").then(setView, fail("load"));
})();
