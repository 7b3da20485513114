(function () {
  'use strict';
  // The page runs sandboxed; the platform's bridge (/assets/islet.js) holds
  // its service session, calls this service's API (paths relative to
  // /p/water-bill/), shows the platform's consent prompt and opens the
  // cashier.
  var POLL_MS = 2000;
  var MAX_POLLS = 10;
  // The citizen's language, as the app has it: Simplified Chinese or English.
  var ZH = window.islet.lang === 'zh-CN';
  function L(en, zh) { return ZH ? zh : en; }
  var LABEL = ZH
    ? { unpaid: '待缴', pending: '等待支付', paid: '已缴', refunded: '已退款' }
    : { unpaid: 'unpaid', pending: 'waiting for payment', paid: 'paid', refunded: 'refunded' };
  var $ = function (id) { return document.getElementById(id); };
  // The page's fixed texts: `data-zh` holds the Chinese.
  if (ZH) {
    document.title = '水费缴纳';
    Array.prototype.forEach.call(document.querySelectorAll('[data-zh]'), function (e) {
      e.textContent = e.getAttribute('data-zh');
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-zh-placeholder]'), function (e) {
      e.setAttribute('placeholder', e.getAttribute('data-zh-placeholder'));
    });
  }
  var api = window.islet.api;

  var polls = 0;
  var wasPending = {};

  function say(text, kind) { var m = $('msg'); m.textContent = text; m.className = kind || ''; }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  // Amounts are integer fen: format them without floating point.
  function yuan(fen) {
    var cents = String(fen % 100);
    return '¥' + Math.floor(fen / 100) + '.' + (cents.length < 2 ? '0' + cents : cents);
  }

  // In the city's time zone, in the citizen's language.
  function when(secs) {
    return secs ? new Date(secs * 1000).toLocaleString(ZH ? 'zh-CN' : 'en', { timeZone: 'Asia/Shanghai' }) : '';
  }

  function pay(bill, button) {
    button.disabled = true;
    say(L('Creating the payment…', '正在创建支付…'));
    api('POST', 'api/bills/' + encodeURIComponent(bill.period) + '/pay').then(function (r) {
      return window.islet.pay(r.checkout_url, '');
    }).catch(function (e) {
      button.disabled = false;
      say(e.message, 'error');
      if (e.status === 409) refresh();
    });
  }

  function item(bill) {
    var li = el('li');
    li.setAttribute('data-testid', 'bill-' + bill.period);
    li.setAttribute('data-status', bill.status);
    var head = el('div', undefined, 'row');
    head.appendChild(el('strong', bill.period));
    head.appendChild(el('span', yuan(bill.amount_fen), 'amount'));
    li.appendChild(head);
    var status = el('div', undefined, 'row');
    status.appendChild(el('span', L('Due ', '缴费期限 ') + bill.due_date, 'meta'));
    var badge = el('span', LABEL[bill.status] || bill.status, 'badge ' + bill.status);
    badge.setAttribute('data-testid', 'bill-status');
    status.appendChild(badge);
    li.appendChild(status);
    if (bill.paid_at) li.appendChild(el('div', L('Paid ', '缴费时间 ') + when(bill.paid_at), 'meta'));
    if (bill.status === 'paid' || bill.status === 'refunded') {
      var r = el('button', L('Receipt', '电子收据'), 'secondary');
      r.setAttribute('data-testid', 'bill-receipt');
      r.onclick = function () { showReceipt(bill.period); };
      li.appendChild(r);
    }
    if (bill.status === 'unpaid' || bill.status === 'pending') {
      var b = el('button', bill.status === 'pending' ? L('Continue payment', '继续支付') : L('Pay ', '缴费 ') + yuan(bill.amount_fen));
      b.setAttribute('data-testid', 'bill-pay');
      b.onclick = function () { pay(bill, b); };
      li.appendChild(b);
    }
    return li;
  }

  function render(account) {
    $('number').textContent = account.number;
    $('address').textContent = account.address;
    var list = $('bills');
    list.textContent = '';
    var pending = false;
    account.bills.slice().reverse().forEach(function (bill) {
      if (bill.status === 'pending') pending = true;
      if (wasPending[bill.period] && bill.status === 'paid') say(L('Thank you! ' + bill.period + ' is paid.', '谢谢！' + bill.period + ' 的水费已缴清。'), 'ok');
      wasPending[bill.period] = bill.status === 'pending';
      list.appendChild(item(bill));
    });
    $('account').classList.remove('hidden');
    $('bills-section').classList.remove('hidden');
    return pending;
  }

  // The receipt prints the payer's real name only with the citizen's
  // consent: without it the service says what to ask (item and purpose),
  // and "Show my name on the receipt" has the app show the platform's own
  // consent prompt, then asks again. "Not now" keeps the receipt without
  // the name.
  var receiptPeriod = null;
  var declined = false;

  function showReceipt(period) {
    if (period !== receiptPeriod) declined = false;
    receiptPeriod = period;
    return api('GET', 'api/bills/' + encodeURIComponent(period) + '/receipt').then(function (r) {
      $('receipt-period').textContent = r.period;
      $('receipt-number').textContent = r.number;
      $('receipt-address').textContent = r.address;
      $('receipt-amount').textContent = yuan(r.amount_fen) + (r.status === 'refunded' ? L(' (refunded)', '（已退款）') : '');
      $('receipt-paid').textContent = when(r.paid_at);
      $('receipt-order').textContent = r.order_id || L('at the counter', '柜台缴费');
      var name = $('receipt-name');
      name.textContent = r.payer_name || L('Name not shown', '不显示姓名');
      name.className = r.payer_name ? '' : 'meta';
      var ask = r.consent && !declined;
      $('receipt-prompt').classList.toggle('hidden', !ask);
      if (ask) $('receipt-purpose').textContent = L('Water bill asks for your real name: ' + r.consent.purpose + '.', '水费缴纳需要您的真实姓名：' + r.consent.purpose + '。');
      $('receipt-consent').disabled = false;
      $('receipt').classList.remove('hidden');
      $('receipt').scrollIntoView({ block: 'nearest' });
      return r;
    }).catch(function (e) { say(e.message, 'error'); });
  }

  $('receipt-consent').onclick = function () {
    $('receipt-consent').disabled = true;
    window.islet.askConsent({ item: 'real-name' }).then(function (granted) {
      if (!granted) {
        declined = true;
        $('receipt-consent').disabled = false;
        $('receipt-prompt').classList.add('hidden');
        return null;
      }
      return showReceipt(receiptPeriod);
    }).then(function (r) {
      if (r && r.payer_name) say(L('Your name is on the receipt.', '收据上已显示您的姓名。'), 'ok');
    }).catch(function (e) {
      // Refused or failed: the receipt stays, without the name.
      $('receipt-consent').disabled = false;
      say(L('Your name could not be added: ', '无法添加姓名：') + e.message, 'error');
    });
  };
  $('receipt-decline').onclick = function () {
    declined = true;
    $('receipt-prompt').classList.add('hidden');
  };
  $('receipt-close').onclick = function () {
    receiptPeriod = null;
    $('receipt').classList.add('hidden');
  };

  // After the cashier the payment event may still be on its way: look again
  // every 2 s for a while as long as a bill waits for payment.
  function load() {
    return api('GET', 'api/account').then(function (account) {
      $('signin').classList.add('hidden');
      var pending = render(account);
      if (pending && polls < MAX_POLLS) {
        polls += 1;
        setTimeout(refresh, POLL_MS);
      }
    });
  }

  function refresh() {
    return load().catch(function (e) { say(e.message, 'error'); });
  }

  function start() {
    if (!window.islet.signedIn()) {
      $('signin').classList.remove('hidden');
      say(L('Sign in to see your water bills.', '登录后查看您的水费账单。'));
      return;
    }
    load().catch(function (e) {
      $('signin').classList.remove('hidden');
      say(e.status === 401 ? L('Your token was not accepted; sign in again.', '您的令牌未被接受，请重新登录。') : e.message, 'error');
    });
  }

  $('save-token').onclick = function () {
    window.islet.setToken($('token').value);
    polls = 0;
    say('');
    start();
  };
  start();
})();
