/** The shared JSON configuration. */
package dev.metalayer.json;
