/**
 * Rules of the layer's own log, below every other package of the core: {@link dev.metalayer.log.WarnLimiter}
 * keeps a failure that can repeat at the rate of outside traffic to one warning per kind, subject and
 * minute. Depends on nothing of the layer.
 */
package dev.metalayer.log;
