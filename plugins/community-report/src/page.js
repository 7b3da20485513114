(function () {
  'use strict';
  // The page runs sandboxed; the platform's bridge (/assets/islet.js) holds
  // its service session and calls this service's API (paths relative to
  // /p/community-report/). The page is also served at reports/{id}, the
  // link of the messages it sends.
  var NEXT = { submitted: ['accepted', 'rejected'], accepted: ['in-progress', 'rejected'],
               'in-progress': ['resolved', 'rejected'], resolved: [], rejected: [] };
  var TEMPLATE = 'report-status';
  var $ = function (id) { return document.getElementById(id); };
  // The citizen's language, as the app has it: Simplified Chinese or English.
  var ZH = window.islet.lang === 'zh-CN';
  function L(en, zh) { return ZH ? zh : en; }
  var STATUS = { submitted: '已提交', accepted: '已受理', 'in-progress': '处理中', resolved: '已解决', rejected: '不予受理' };
  var CATEGORY = { 'street-light': '路灯', road: '道路', sanitation: '环境卫生', noise: '噪音', greenery: '绿化', other: '其他' };
  function status(s) { return ZH ? STATUS[s] || s : s; }
  function category(c) { return ZH ? CATEGORY[c] || c : c; }
  // The page's fixed texts: `data-zh` holds the Chinese.
  if (ZH) {
    document.title = '社区报事';
    Array.prototype.forEach.call(document.querySelectorAll('[data-zh]'), function (e) {
      e.textContent = e.getAttribute('data-zh');
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-zh-placeholder]'), function (e) {
      e.setAttribute('placeholder', e.getAttribute('data-zh-placeholder'));
    });
  }

  var params = new URLSearchParams(location.search);
  var api = window.islet.api;

  /** The report the address names: reports/{id}, ?report={id} or #report-{id}. */
  function linkedReport() {
    var m = /reports\/(\d+)$/.exec(location.pathname) || /^#report-(\d+)$/.exec(location.hash);
    var id = m ? m[1] : params.get('report');
    return id && /^\d+$/.test(id) ? id : null;
  }

  function say(text, kind) { var m = $('msg'); m.textContent = text; m.className = kind || ''; }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  // In the city's time zone, in the citizen's language.
  function when(secs) {
    return secs ? new Date(secs * 1000).toLocaleString(ZH ? 'zh-CN' : 'en', { timeZone: 'Asia/Shanghai' }) : '';
  }

  function changeStatus(r, to) {
    var comment = prompt('Comment for the resident (optional)', '') || '';
    api('POST', 'api/reports/' + r.id + '/status', { status: to, comment: comment })
      .then(function (answer) {
        var n = answer.notification;
        var told = n && n.sent ? ' The reporter was notified.' : (n && n.note ? ' (' + n.note + ')' : '');
        say('Report #' + r.id + ' is now ' + to + '.' + told, 'ok');
        refresh();
      })
      .catch(function (e) { say(e.message, 'error'); });
  }

  function item(r, staff) {
    var li = el('li');
    li.setAttribute('data-testid', 'report-' + r.id);
    li.setAttribute('data-status', r.status);
    if (String(r.id) === linkedReport()) li.className = 'highlight';
    var head = el('div');
    head.appendChild(el('strong', '#' + r.id + ' ' + category(r.category) + ' '));
    head.appendChild(el('span', status(r.status), 'badge ' + r.status));
    li.appendChild(head);
    li.appendChild(el('div', r.description));
    li.appendChild(el('div', r.location + ' · ' + when(r.created_at), 'meta'));
    var last = r.history[r.history.length - 1];
    if (last && last.comment) li.appendChild(el('div', '“' + last.comment + '”', 'meta'));
    if (staff) {
      (NEXT[r.status] || []).forEach(function (to) {
        var b = el('button', to, 'small');
        b.setAttribute('data-testid', 'to-' + to);
        b.onclick = function () { changeStatus(r, to); };
        li.appendChild(b);
      });
    }
    return li;
  }

  function lister(listId, moreId, path, staff) {
    var cursor = null;
    function load(reset) {
      if (reset) { cursor = null; $(listId).textContent = ''; }
      var sep = path().indexOf('?') < 0 ? '?' : '&';
      var url = path() + (cursor ? sep + 'cursor=' + encodeURIComponent(cursor) : '');
      return api('GET', url).then(function (page) {
        page.reports.forEach(function (r) { $(listId).appendChild(item(r, staff)); });
        if (reset && page.reports.length === 0) $(listId).appendChild(el('li', L('Nothing yet.', '暂无。'), 'meta'));
        cursor = page.next_cursor;
        $(moreId).classList.toggle('hidden', !cursor);
      });
    }
    $(moreId).onclick = function () { load(false).catch(function (e) { say(e.message, 'error'); }); };
    return load;
  }

  var loadMine = lister('mine', 'mine-more', function () { return 'api/reports/mine'; }, false);
  var loadAll = lister('all', 'all-more', function () {
    var f = $('filter').value;
    return 'api/reports' + (f ? '?status=' + encodeURIComponent(f) : '');
  }, true);
  var isStaff = false;

  /** The report a message linked to, with its whole history, on top. */
  function loadDetail() {
    var id = linkedReport();
    var box = $('detail');
    if (!id) { box.classList.add('hidden'); return Promise.resolve(); }
    return api('GET', 'api/reports/' + id).then(function (r) {
      box.textContent = '';
      var head = el('h2', L('Report #', '报事 #') + r.id + ' ');
      head.appendChild(el('span', status(r.status), 'badge ' + r.status));
      box.appendChild(head);
      box.appendChild(el('div', r.description));
      box.appendChild(el('div', category(r.category) + ' · ' + r.location, 'meta'));
      var history = el('ul', undefined, 'history');
      history.setAttribute('data-testid', 'report-history');
      r.history.slice().reverse().forEach(function (h) {
        var li = el('li');
        li.appendChild(el('strong', status(h.status) + ' '));
        li.appendChild(el('span', when(h.at) + (h.by === 'staff' ? L(' · staff', ' · 工作人员') : ''), 'meta'));
        if (h.comment) li.appendChild(el('div', '“' + h.comment + '”'));
        history.appendChild(li);
      });
      box.appendChild(history);
      box.classList.remove('hidden');
    }).catch(function (e) {
      box.textContent = '';
      box.appendChild(el('p', e.status === 404 ? 'Report #' + id + ' is not one of yours.' : e.message, 'error'));
      box.classList.remove('hidden');
    });
  }

  function refresh() {
    var jobs = [loadMine(true), loadDetail()];
    if (isStaff) jobs.push(loadAll(true));
    return Promise.all(jobs).catch(function (e) { say(e.message, 'error'); });
  }

  // After filing: ask whether to be told when the report moves on. "Yes"
  // has the app show the platform's own consent prompt for one message of
  // the report-status template: the consent is given to the platform, never
  // recorded by this service.
  var asking = null;
  function askToNotify(report) {
    asking = report;
    $('notify-text').textContent = L('We can tell you when report #' + report.id + ' (' +
      report.location + ') is accepted, in progress, resolved or rejected.',
      '报事 #' + report.id + '（' + report.location + '）被受理、开始处理、解决或不予受理时，我们可以通知您。');
    $('notify-yes').disabled = false;
    $('notify-prompt').classList.remove('hidden');
  }

  function closePrompt() {
    asking = null;
    $('notify-prompt').classList.add('hidden');
  }

  $('notify-yes').onclick = function () {
    var report = asking;
    if (!report) return;
    $('notify-yes').disabled = true;
    window.islet.askConsent({ template: TEMPLATE }).then(function (granted) {
      closePrompt();
      if (granted) say(L('We will tell you in your Inbox when report #' + report.id + ' moves on.', '报事 #' + report.id + ' 有进展时，我们会在消息中通知您。'), 'ok');
      else say(L('Fine. Check back here for news of report #' + report.id + '.', '好的。请回到这里查看报事 #' + report.id + ' 的进展。'));
    }).catch(function (e) {
      closePrompt();
      say('Messages are not available (' + e.message + '). Check back here for news of report #' +
        report.id + '.', 'error');
    });
  };
  $('notify-no').onclick = function () {
    var report = asking;
    closePrompt();
    if (report) say(L('Fine. Check back here for news of report #' + report.id + '.', '好的。请回到这里查看报事 #' + report.id + ' 的进展。'));
  };

  function start() {
    if (!window.islet.signedIn()) {
      $('signin').classList.remove('hidden');
      say(L('Sign in to report and follow your reports.', '登录后即可报事并跟进进度。'));
      return;
    }
    api('GET', 'api/me').then(function (me) {
      isStaff = !!me.staff;
      $('staff').classList.toggle('hidden', !isStaff);
      $('signin').classList.add('hidden');
      say('');
      return refresh();
    }).catch(function (e) {
      $('signin').classList.remove('hidden');
      say(e.status === 401 ? L('Your token was not accepted; sign in again.', '您的令牌未被接受，请重新登录。') : e.message, 'error');
    });
  }

  $('save-token').onclick = function () {
    window.islet.setToken($('token').value);
    start();
  };
  $('filter').onchange = function () { loadAll(true).catch(function (e) { say(e.message, 'error'); }); };
  $('report-form').onsubmit = function (ev) {
    ev.preventDefault();
    api('POST', 'api/reports', {
      category: $('category').value,
      description: $('description').value,
      location: $('location').value
    }).then(function (r) {
      say(L('Thank you! Report #' + r.id + ' was sent.', '谢谢！报事 #' + r.id + ' 已提交。'), 'ok');
      $('description').value = ''; $('location').value = '';
      askToNotify(r);
      refresh();
    }).catch(function (e) { say(e.message, 'error'); });
  };
  window.addEventListener('hashchange', function () { loadDetail(); });
  start();
})();
