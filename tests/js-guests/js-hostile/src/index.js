// Misbehaves on request so the host's limits can be checked for JS guests.
import { Router, Response } from '@islet/sdk';

export const router = new Router()
  .get('/ok', () => 'ok')
  .get('/spin', () => {
    let n = 0;
    for (;;) n = (n + 1) | 0;
  })
  .get('/hog', () => {
    const kept = [];
    for (;;) kept.push(new Uint8Array(1 << 20).fill(1));
  })
  .get('/throw', () => {
    throw new Error('thrown on purpose');
  })
  .get('/big', (req) => Response.bytes('application/octet-stream', new Uint8Array(Number(req.query('bytes') ?? 4194304)).fill(120)));
