/*
 * application/x-www-form-urlencoded bodies, as GitHub (payload=<JSON>) and
 * Slack (slash commands, interactivity) send them: the fields as a JSON
 * object of strings.
 */

#ifndef HOOKD_FORM_H
#define HOOKD_FORM_H

#include <stddef.h>
#include <jansson.h>

/* NULL if a field is not valid UTF-8 once decoded, or a name repeats */
json_t *hookd_form_object(const char *s, size_t len);

#endif /* HOOKD_FORM_H */
