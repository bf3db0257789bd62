/**
 * Rules of the layer's own log, below every other package of the core: {@link dev.metalayer.log.WarnLimiter}
 * keeps a failure that can repeat at the rate of outside traffic to one warning per kind, subject and
 * minute; {@link dev.metalayer.log.RequestIds} is the rule of request ids (which incoming one is kept,
 * what replaces it, what goes on to Meta and to subscribers). Depends on nothing of the layer.
 */
package dev.metalayer.log;
