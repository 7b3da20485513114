// The page bridge for mini-service web pages, served by the platform at
// /assets/islet.js (load it with <script src="/assets/islet.js"></script>).
//
// A service page runs sandboxed in an origin of its own: it never sees the
// citizen's app token. Inside the app shell it gets a service session (a
// token that works on this service's routes only) in its address, and asks
// the shell, by message, for what only the platform may do: show a consent
// prompt, open the cashier, renew the session. Opened on its own (while
// developing), it takes an app token from `?token=` or setToken().
//
//   islet.signedIn()                  whether a token is at hand
//   islet.api(method, path, body)     call this service (`path` relative to
//                                     /p/{id}/); JSON in and out; a non-2xx
//                                     answer rejects with .status and .code
//   islet.askConsent({item})          ask the citizen, in the platform's own
//   islet.askConsent({template})      prompt; resolves true when granted
//   islet.pay(checkoutUrl, back)      open the cashier; come back to `back`
//                                     (a path of this service) afterwards;
//                                     only the platform's checkout_url of an
//                                     order of this service opens
//   islet.inShell                     whether the app shell hosts the page
//   islet.lang                        the citizen's language: 'zh-CN' or 'en'
(function () {
  'use strict';
  var SESSION_PARAM = 'islet-session';
  var BRIDGE_PARAM = 'islet-bridge';
  var REPLY_MS = 120000;

  // The shell appends `islet-session=...` (when the citizen is signed in)
  // and `islet-bridge=...` (the key its answers are bound to: this page,
  // loaded where the shell sent it) to the page's own fragment.
  var fragment = location.hash.slice(1);
  var taken = false;
  function take(name) {
    var found = new RegExp('(^|&)' + name + '=([^&]*)').exec(fragment);
    if (!found) return '';
    taken = true;
    fragment = fragment.slice(0, found.index) + fragment.slice(found.index + found[0].length);
    fragment = fragment.replace(/^&|&$/g, '');
    try {
      return decodeURIComponent(found[2]);
    } catch (e) {
      return '';
    }
  }
  var session = take(SESSION_PARAM);
  var bridge = take(BRIDGE_PARAM);
  // The citizen's language, as the shell has it (`islet-lang`), else the
  // browser's: 'zh-CN' or 'en'.
  var shellLang = take('islet-lang');
  var lang = /^(zh-CN|en)$/.test(shellLang) ? shellLang : (function () {
    var wanted = navigator.languages || [navigator.language || ''];
    for (var i = 0; i < wanted.length; i++) {
      var primary = String(wanted[i]).toLowerCase().split('-')[0];
      if (primary === 'zh') return 'zh-CN';
      if (primary === 'en') return 'en';
    }
    return 'zh-CN';
  })();
  document.documentElement.lang = lang;
  var token = session || new URLSearchParams(location.search).get('token') || '';
  if (taken) {
    // Keep them out of the address bar, history and bookmarks.
    try {
      history.replaceState(null, '', location.pathname + location.search + (fragment ? '#' + fragment : ''));
    } catch (e) { /* the address keeps them; harmless */ }
  }
  var match = location.pathname.match(/^\/p\/([^/]+)\//);
  var root = match ? match[0] : '/';
  var service = '';
  try {
    service = match ? decodeURIComponent(match[1]) : '';
  } catch (e) { /* not a service page */ }
  var inShell = window.parent !== window;
  var waiting = {};
  var counter = 0;

  window.addEventListener('message', function (event) {
    if (event.source !== window.parent || event.origin !== location.origin) return;
    var m = event.data;
    if (!m || typeof m !== 'object' || typeof m.id !== 'string' || !waiting[m.id]) return;
    var done = waiting[m.id];
    delete waiting[m.id];
    done(m);
  });

  /** Ask the shell; resolves with its answer (or a timeout/error answer). */
  function ask(type, fields) {
    if (!inShell) {
      return Promise.resolve({ ok: false, error: 'open this service in the city app for that' });
    }
    return new Promise(function (resolve) {
      counter += 1;
      var id = 'islet-' + counter;
      var timer = setTimeout(function () {
        delete waiting[id];
        resolve({ ok: false, error: 'the app did not answer' });
      }, REPLY_MS);
      waiting[id] = function (answer) { clearTimeout(timer); resolve(answer); };
      // The shell answers only the page it opened, for the service it
      // opened: both travel with every request.
      var message = { type: type, id: id, service: service, bridge: bridge };
      for (var k in fields) if (Object.prototype.hasOwnProperty.call(fields, k)) message[k] = fields[k];
      // Only the platform's own page (the shell) may receive it.
      window.parent.postMessage(message, location.origin);
    });
  }

  function failure(status, data, fallback) {
    var err = new Error(data && data.error ? data.error.message : fallback);
    err.status = status;
    err.code = data && data.error ? data.error.code : '';
    return err;
  }

  function send(method, path, body) {
    var headers = { accept: 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    if (body !== undefined) headers['content-type'] = 'application/json';
    var init = { method: method, headers: headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    var url = path.charAt(0) === '/' ? path : root + path;
    return fetch(url, init).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!res.ok) throw failure(res.status, data, res.status + ' ' + res.statusText);
        return data;
      });
    });
  }

  /** Call this service's API; an expired session is renewed once. */
  function api(method, path, body) {
    return send(method, path, body).catch(function (err) {
      if (err.code !== 'session_expired' || !inShell) throw err;
      return ask('islet:session', {}).then(function (answer) {
        if (!answer.ok || !answer.token) throw err;
        token = answer.token;
        return send(method, path, body);
      });
    });
  }

  /** Ask the citizen for a data item or a message template. */
  function askConsent(what) {
    var fields = {};
    if (what && what.item) fields.item = String(what.item);
    else if (what && what.template) fields.template = String(what.template);
    else return Promise.reject(new Error('askConsent needs {item} or {template}'));
    return ask('islet:consent', fields).then(function (answer) {
      if (answer.error && !answer.declined) throw new Error(answer.error);
      return Boolean(answer.ok);
    });
  }

  /** Open the cashier for `checkoutUrl`, coming back to `back` afterwards. */
  function pay(checkoutUrl, back) {
    var returnTo = root + String(back || '').replace(/^\//, '');
    if (!inShell) {
      var sep = checkoutUrl.indexOf('?') < 0 ? '?' : '&';
      location.href = checkoutUrl + sep + 'return=' + encodeURIComponent(returnTo);
      return Promise.resolve({ ok: true });
    }
    return ask('islet:pay', { checkout_url: String(checkoutUrl), back: returnTo }).then(function (answer) {
      if (!answer.ok) throw new Error(answer.error || 'the cashier could not be opened');
      return answer;
    });
  }

  window.islet = {
    lang: lang,
    inShell: inShell,
    root: root,
    signedIn: function () { return Boolean(token); },
    setToken: function (value) { token = String(value || '').trim(); },
    api: api,
    askConsent: askConsent,
    pay: pay,
  };
})();
