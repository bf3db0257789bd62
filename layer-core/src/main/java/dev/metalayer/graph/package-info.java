/** The Graph compatibility rules: credentials, scope, answer rewriting and Graph-shaped errors. */
package dev.metalayer.graph;
