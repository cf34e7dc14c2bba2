// Non-variadic wrappers over libedit (Swift cannot call C variadic functions such as el_set).
#ifndef DREAM_EDIT_SHIM_H
#define DREAM_EDIT_SHIM_H
#include <stdio.h>

typedef struct dream_editor dream_editor;

/// Completion callback: given the context it was set with and the line up to the cursor, returns a malloc'd
/// string to insert (or NULL), and may print candidates itself. `listed` is set non-zero when it printed a
/// list (the line is redrawn).
typedef char *(*dream_complete_fn)(void *context, const char *line_to_cursor, int *listed);

dream_editor *dream_editor_open(const char *program, FILE *in, FILE *out, FILE *err);
void dream_editor_close(dream_editor *e);
void dream_editor_set_prompt(dream_editor *e, const char *prompt);
void dream_editor_set_completion(dream_editor *e, dream_complete_fn fn, void *context);
/// Reads one line (without its newline) into a malloc'd string. Returns NULL at end of input;
/// sets *interrupted when the read was interrupted by a signal (Ctrl-C) instead.
char *dream_editor_gets(dream_editor *e, int *interrupted);
/// History: load/save a file, add an entry.
int dream_history_load(dream_editor *e, const char *path);
int dream_history_save(dream_editor *e, const char *path);
void dream_history_add(dream_editor *e, const char *line);
#endif
