// {{name}}: greets the signed-in citizen and counts their visits.
import { Router, Response, identity, storage, log } from '@islet/sdk';

export const router = new Router()
  .get('/', () => Response.html('<!doctype html><meta charset="utf-8"><h1>{{name}}</h1>'))
  .post('/api/visits', () => {
    const { subject } = identity.requireCaller(); // 401 when anonymous
    const visits = storage.increment(`visits/${subject}`, 1);
    log.info(`${subject} visited ${visits} times`);
    return { visits };
  });
