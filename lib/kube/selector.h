/*
 * Kubernetes label selectors, as k8s.io/apimachinery/pkg/labels defines
 * them: comma-separated requirements, each one of
 *     key            the label exists
 *     !key           the label does not exist
 *     key=value      key==value      key!=value
 *     key in (a,b)   key notin (a,b)
 *     key>5          key<5           (integer comparison)
 * Keys are qualified names ([prefix/]name), values are empty or label
 * values; both are validated. An empty selector matches everything.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_KUBE_SELECTOR_H
#define ASTRA_KUBE_SELECTOR_H

#include "astra/common.h"
#include "fmt/json.h"

typedef struct astra__selector astra__selector;

/* Parses s (NULL or "" is the empty selector). ASTRA_EINVALID naming the
 * selector, the position and the cause. */
int astra__selector_parse(astra__selector **out, const char *s);

/* From a metav1.LabelSelector object ({matchLabels, matchExpressions});
 * NULL or {} is the empty selector. */
int astra__selector_from_json(astra__selector **out, const astra__json *sel);

void astra__selector_free(astra__selector *sel);

/* 1 when the labels (a JSON object of strings, or NULL) match. */
int astra__selector_matches(
        const astra__selector *sel, const astra__json *labels);

/* 1 when the selector has no requirements. */
int astra__selector_empty(const astra__selector *sel);

/* The canonical string form (as the API server's labelSelector=). */
int astra__selector_string(const astra__selector *sel, astra_buf *out);

#endif
