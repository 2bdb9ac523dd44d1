/*
 * commands.h - the reader's commands that parse their own arguments, each
 * in its own tools/cmd_*.c: run(argc, argv) with argv[0] the command's name,
 * returning an exit status (view.h).
 */
#ifndef GPUMEM_COMMANDS_H
#define GPUMEM_COMMANDS_H

int gpumem__cmd_help(int argc, char **argv);

/* fleet (issue 14) */
int gpumem__cmd_serve(int argc, char **argv);
int gpumem__cmd_export(int argc, char **argv);

/* history (issue 15) */
int gpumem__cmd_history(int argc, char **argv);
int gpumem__cmd_plot(int argc, char **argv);
int gpumem__cmd_trace(int argc, char **argv);

/* automation (issue 16) */
int gpumem__cmd_watch(int argc, char **argv);

/* python and install (issue 17) */
int gpumem__cmd_run(int argc, char **argv);

#endif /* GPUMEM_COMMANDS_H */
