// {{name}}: citizens subscribe, the department's staff post news, and every
// subscriber who consented gets one Inbox message per news item.
//
// A message needs the citizen's consent to the `news` template (one-time:
// one message per "yes"); the page asks for it with the app's consent
// prompt (`islet.askConsent({template: 'news'})`). A subscriber without a
// consent left is skipped, never an error for the staff member.
//
// | route | who | what |
// | --- | --- | --- |
// | `GET /` | anyone | the page |
// | `POST /api/subscription` | signed in | subscribe; `{"subscribed": true, "consent": {"template"}}` |
// | `DELETE /api/subscription` | signed in | unsubscribe |
// | `POST /api/news` `{"text"}` | department staff | send to every subscriber: `{"sent", "skipped"}` |
import { Router, Response, identity, storage, notification, log, NotifyError } from '@islet/sdk';

/** The template declared in `islet.toml`. */
export const TEMPLATE = 'news';
/** Longest news text, characters. */
export const MAX_TEXT_CHARS = 200;

const PAGE = `<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{name}}</title></head>
<body><main><h1>{{name}}</h1>
<p>POST <code>/api/subscription</code> subscribes; the app asks for consent to the <code>news</code> template.</p></main></body>
</html>
`;

export const router = new Router()
  .get('/', () => Response.html(PAGE))
  .post('/api/subscription', () => {
    const { subject } = identity.requireCaller();
    storage.set(`subscribers/${subject}`, '1');
    return { subscribed: true, consent: { template: TEMPLATE } };
  })
  .delete('/api/subscription', () => {
    const { subject } = identity.requireCaller();
    storage.delete(`subscribers/${subject}`);
    return { subscribed: false };
  })
  .post('/api/news', (req) => {
    identity.requireRole('staff'); // the department's staff only
    const text = String(req.json()?.text ?? '').trim();
    if (!text || [...text].length > MAX_TEXT_CHARS) {
      return Response.badRequest(`text must be 1 to ${MAX_TEXT_CHARS} characters`);
    }
    let sent = 0;
    let skipped = 0;
    let cursor;
    do {
      const page = storage.listKeys('subscribers/', cursor, 100);
      for (const key of page.keys) {
        const subject = key.slice('subscribers/'.length);
        try {
          notification.send(subject, TEMPLATE, { text }, '/');
          sent += 1;
        } catch (e) {
          // No consent left, or a citizen gone: skip. Quota or an outage:
          // stop and say so (the error is the answer).
          if (e instanceof NotifyError && ['no-consent', 'unknown-recipient'].includes(e.kind)) skipped += 1;
          else throw e;
        }
      }
      cursor = page.nextCursor;
    } while (cursor);
    log.info(`news sent to ${sent} subscriber(s), ${skipped} skipped`);
    return { sent, skipped };
  });
