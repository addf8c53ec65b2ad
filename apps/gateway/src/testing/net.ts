/**
 * A port free right now on 127.0.0.1. A gateway that must be restarted on its port needs one given explicitly:
 * uSockets sets SO_REUSEADDR only when listening on a non-zero port, and without it the connections the old
 * gateway closed (TIME_WAIT, 60 s) keep the new one from binding.
 */
export { freePort } from '@gw/bus-redis/testing';
