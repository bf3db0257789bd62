/**
 * Numbers, provider keys and their resolution into grants. Keys are shown once and stored as SHA-256
 * hashes; Meta tokens are sealed at rest and only opened into a {@link dev.metalayer.keys.Grant}.
 */
package dev.metalayer.keys;
