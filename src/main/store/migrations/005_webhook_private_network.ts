import type { Migration } from './types';

/**
 * Per-webhook `allowPrivateNetwork`: a receiver on loopback or the LAN allowed for one
 * registration. NULL (every existing row) follows the studio-wide `webhooksAllowPrivateNetwork`.
 */
export const migration005: Migration = {
  version: 5,
  name: 'webhook private network',
  up(db) {
    db.exec('ALTER TABLE webhooks ADD COLUMN allow_private_network INTEGER');
  },
};
