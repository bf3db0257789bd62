/** The Graph compatibility rules: credentials, the Graph surface (what a key may ask), answer rewriting and Graph-shaped errors. */
package dev.metalayer.graph;
