// Subscriptions: where events go. Created with a secret that is shown once, then only its hint.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Subscription, SubscriptionFilter, SubscriptionFormat } from '../events/types';
import type { Clock, Store } from './ports';

export interface NewSubscription {
  url: string;
  format: SubscriptionFormat;
  secret?: string;
  filter: SubscriptionFilter;
  headers: Record<string, string>;
  types: string[];
}

/** What the API shows of a subscription after creation: never the secret, nor header values. */
export type SubscriptionView = Omit<Subscription, 'secret'> & { secretHint: string };

export const toSubscriptionView = ({
  secret,
  headers,
  ...rest
}: Subscription): SubscriptionView => ({
  ...rest,
  // Headers often carry credentials (a GitHub token, an API key): show only that they are set.
  headers: Object.fromEntries(Object.keys(headers).map((name) => [name, '(set)'])),
  secretHint: secret.length > 12 ? `${secret.slice(0, 6)}…${secret.slice(-4)}` : '(set)',
});

/** Standard Webhooks secrets: `whsec_` and 24 random bytes in base64. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

export async function createSubscription(
  deps: { store: Pick<Store, 'subscriptions'>; clock: Clock },
  input: NewSubscription,
): Promise<Subscription> {
  const subscription: Subscription = {
    id: randomUUID(),
    url: input.url,
    format: input.format,
    secret: input.secret ?? newWebhookSecret(),
    filter: input.filter,
    headers: input.headers,
    types: input.types,
    enabled: true,
    createdAt: deps.clock.now(),
  };
  await deps.store.subscriptions.create(subscription);
  return subscription;
}
