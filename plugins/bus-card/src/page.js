// The page's files, served by the service itself (no inline script, so it
// runs under a `script-src 'self'` policy). Chinese first, English second.
export const PAGE_HTML = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>公交卡充值 · Bus card</title>
<link rel="stylesheet" href="page.css">
</head>
<body>
<header><h1>公交卡充值 <small>Bus card top-up</small></h1></header>
<main>
  <section id="signin" class="hidden">
    <h2>登录 · Sign in</h2>
    <label for="token">访问令牌（来自城市 App） · Access token</label>
    <input id="token" autocomplete="off" placeholder="粘贴令牌 · paste your token">
    <button id="save-token" class="secondary">使用此令牌 · Use this token</button>
  </section>
  <p id="msg" role="status" data-testid="card-message"></p>
  <section id="register" class="hidden">
    <h2>绑定公交卡 · Register your card</h2>
    <label for="number">卡号（8–12 位数字） · Card number</label>
    <input id="number" inputmode="numeric" autocomplete="off" data-testid="card-number">
    <button id="save-card" data-testid="save-card">绑定 · Register</button>
  </section>
  <section id="card" class="hidden">
    <h2>我的公交卡 <span id="card-number"></span></h2>
    <p class="balance">余额 · Balance <strong id="balance" data-testid="balance"></strong></p>
    <div id="amounts" class="amounts"></div>
    <label><input type="checkbox" id="notify" checked> 到账后通知我 · Tell me when it is credited</label>
  </section>
  <section id="history" class="hidden">
    <h2>充值记录 · Top-ups</h2>
    <ul id="topups" data-testid="topups"></ul>
  </section>
</main>
<script src="/assets/islet.js"></script>
<script src="page.js"></script>
</body>
</html>
`;

export const PAGE_JS = `(function () {
  'use strict';
  var TEMPLATE = 'topup-credited';
  var STATUS = { pending: '待支付 · waiting', credited: '已到账 · credited', expired: '已过期 · expired', closed: '已关闭 · closed' };
  var $ = function (id) { return document.getElementById(id); };
  var api = window.islet.api;
  function say(t, kind) { $('msg').textContent = t; $('msg').className = kind || ''; }
  function yuan(fen) { var c = String(fen % 100); return '¥' + Math.floor(fen / 100) + '.' + (c.length < 2 ? '0' + c : c); }
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }

  function topUp(fen, button) {
    button.disabled = true;
    var consent = $('notify').checked ? window.islet.askConsent({ template: TEMPLATE }).catch(function () { return false; }) : Promise.resolve(false);
    consent.then(function () {
      say('正在创建订单… · Creating the payment…');
      return api('POST', 'api/topups', { amount_fen: fen });
    }).then(function (r) {
      return window.islet.pay(r.checkout_url, '');
    }).then(function () {
      say('支付完成，到账后将更新余额。 · Paid: the balance updates once credited.', 'ok');
      setTimeout(load, 2000);
    }).catch(function (e) {
      say(e.message, 'error');
    }).then(function () { button.disabled = false; });
  }

  function show(data) {
    $('register').classList.toggle('hidden', !!data.card);
    $('card').classList.toggle('hidden', !data.card);
    $('history').classList.toggle('hidden', !data.topups.length);
    if (data.card) {
      $('card-number').textContent = data.card.number;
      $('balance').textContent = yuan(data.card.balance_fen);
      var box = $('amounts');
      box.textContent = '';
      data.amounts_fen.forEach(function (fen) {
        var b = el('button', '充值 ' + yuan(fen));
        b.setAttribute('data-testid', 'topup-' + fen);
        b.onclick = function () { topUp(fen, b); };
        box.appendChild(b);
      });
    }
    var list = $('topups');
    list.textContent = '';
    data.topups.forEach(function (t) {
      var li = el('li');
      li.setAttribute('data-status', t.status);
      li.appendChild(el('strong', yuan(t.amount_fen)));
      li.appendChild(el('span', STATUS[t.status] || t.status, 'badge ' + t.status));
      list.appendChild(li);
    });
  }

  function load() {
    return api('GET', 'api/card').then(function (d) { $('signin').classList.add('hidden'); show(d); })
      .catch(function (e) {
        if (e.status === 401) { $('signin').classList.remove('hidden'); say('请先登录 · Sign in first'); }
        else say(e.message, 'error');
      });
  }

  $('save-card').onclick = function () {
    api('PUT', 'api/card', { number: $('number').value.trim() }).then(function () { say('已绑定 · Registered', 'ok'); load(); })
      .catch(function (e) { say(e.message, 'error'); });
  };
  $('save-token').onclick = function () { window.islet.setToken($('token').value); load(); };
  if (window.islet.signedIn()) load(); else { $('signin').classList.remove('hidden'); say('请先登录 · Sign in first'); }
})();
`;

export const PAGE_CSS = `:root { --accent: #1565c0; --muted: #667; --line: #dde; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "PingFang SC", "Noto Sans CJK SC", sans-serif; color: #223; background: #f4f6fa; }
header { background: var(--accent); color: #fff; padding: 14px 16px; }
header h1 { margin: 0; font-size: 1.2rem; } header small { font-weight: normal; font-size: .8rem; }
main { max-width: 640px; margin: 0 auto; padding: 12px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px; margin-bottom: 12px; }
h2 { font-size: 1.05rem; margin: 0 0 10px; }
label { display: block; font-size: .9rem; color: var(--muted); margin: 8px 0 4px; }
input, button { font: inherit; padding: 10px; border: 1px solid #ccd; border-radius: 8px; }
input#number, input#token { width: 100%; }
button { background: var(--accent); color: #fff; border: 0; margin: 6px 6px 0 0; cursor: pointer; }
button.secondary { background: #eef; color: #223; }
.amounts { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; }
.balance strong { font-size: 1.6rem; color: var(--accent); }
ul { list-style: none; margin: 0; padding: 0; }
li { display: flex; justify-content: space-between; border-top: 1px solid var(--line); padding: 8px 0; }
li:first-child { border-top: 0; }
.badge { padding: 1px 8px; border-radius: 99px; font-size: .8rem; background: #eee; }
.credited { background: #d1fae5; } .pending { background: #fff3cd; } .expired, .closed { background: #fde2e2; }
#msg { min-height: 1.4em; font-size: .9rem; } .error { color: #b00020; } .ok { color: var(--accent); }
.hidden { display: none; }
`;
