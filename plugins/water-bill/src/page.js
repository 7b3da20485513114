(function () {
  'use strict';
  // The page runs sandboxed; the platform's bridge (/assets/islet.js) holds
  // its service session, calls this service's API (paths relative to
  // /p/water-bill/), shows the platform's consent prompt and opens the
  // cashier.
  var POLL_MS = 2000;
  var MAX_POLLS = 10;
  var LABEL = { unpaid: 'unpaid', pending: 'waiting for payment', paid: 'paid', refunded: 'refunded' };
  var $ = function (id) { return document.getElementById(id); };
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

  function when(secs) { return secs ? new Date(secs * 1000).toLocaleString() : ''; }

  function pay(bill, button) {
    button.disabled = true;
    say('Creating the payment…');
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
    status.appendChild(el('span', 'Due ' + bill.due_date, 'meta'));
    var badge = el('span', LABEL[bill.status] || bill.status, 'badge ' + bill.status);
    badge.setAttribute('data-testid', 'bill-status');
    status.appendChild(badge);
    li.appendChild(status);
    if (bill.paid_at) li.appendChild(el('div', 'Paid ' + when(bill.paid_at), 'meta'));
    if (bill.status === 'paid' || bill.status === 'refunded') {
      var r = el('button', 'Receipt', 'secondary');
      r.setAttribute('data-testid', 'bill-receipt');
      r.onclick = function () { showReceipt(bill.period); };
      li.appendChild(r);
    }
    if (bill.status === 'unpaid' || bill.status === 'pending') {
      var b = el('button', bill.status === 'pending' ? 'Continue payment' : 'Pay ' + yuan(bill.amount_fen));
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
      if (wasPending[bill.period] && bill.status === 'paid') say('Thank you! ' + bill.period + ' is paid.', 'ok');
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
      $('receipt-amount').textContent = yuan(r.amount_fen) + (r.status === 'refunded' ? ' (refunded)' : '');
      $('receipt-paid').textContent = when(r.paid_at);
      $('receipt-order').textContent = r.order_id || 'at the counter';
      var name = $('receipt-name');
      name.textContent = r.payer_name || 'Name not shown';
      name.className = r.payer_name ? '' : 'meta';
      var ask = r.consent && !declined;
      $('receipt-prompt').classList.toggle('hidden', !ask);
      if (ask) $('receipt-purpose').textContent = 'Water bill asks for your real name: ' + r.consent.purpose + '.';
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
      if (r && r.payer_name) say('Your name is on the receipt.', 'ok');
    }).catch(function (e) {
      // Refused or failed: the receipt stays, without the name.
      $('receipt-consent').disabled = false;
      say('Your name could not be added: ' + e.message, 'error');
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
      say('Sign in to see your water bills.');
      return;
    }
    load().catch(function (e) {
      $('signin').classList.remove('hidden');
      say(e.status === 401 ? 'Your token was not accepted; sign in again.' : e.message, 'error');
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
