/** Encryption of secrets at rest, HMAC helpers and constant-time comparison. No secret is ever logged here. */
package dev.metalayer.crypto;
