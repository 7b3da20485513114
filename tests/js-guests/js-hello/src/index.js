// The smallest JS mini-service: greets the caller and counts visits.
import { Router, Response, identity, storage, log } from '@islet/sdk';

export const router = new Router()
  .get('/', () => {
    const caller = identity.currentCaller();
    log.info(`hello ${caller ? caller.subject : 'anonymous'}`);
    return Response.text(caller ? `Hello, ${caller.subject}` : 'Hello from JS');
  })
  .post('/visits', () => {
    const caller = identity.requireCaller();
    return { visits: storage.increment(`visits/${caller.subject}`, 1) };
  })
  .get('/echo/{*rest}', (req) => ({ rest: req.param('rest'), q: req.query('q') ?? null }));
