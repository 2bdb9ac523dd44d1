/* The "next" definition that probe_wrap.c finds with dlsym(RTLD_NEXT). */
int probe_value(void) { return 1; }
