// The CloudEvent types the gate emits: on their own so readers of the API (the CLI, the Action) need no CloudEvents SDK.
export const REPLICATED_EVENT_TYPE = 'acrgate.tag.replicated';
export const STALLED_EVENT_TYPE = 'acrgate.tag.stalled';
/** Per region: sent only to subscriptions that list it in `types`. */
export const ARRIVED_EVENT_TYPE = 'acrgate.tag.arrived';
