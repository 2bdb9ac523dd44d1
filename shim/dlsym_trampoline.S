/*
 * dlsym_trampoline.S - the shim's dlsym.
 *
 * glibc resolves dlsym(RTLD_NEXT, ...) relative to the caller's return
 * address, so a C wrapper would make every such lookup relative to the shim.
 * This entry asks gpumem__dlsym_hook first; when the hook has nothing to
 * substitute (every non-CUDA lookup) it restores the arguments and jumps to
 * the real dlsym, leaving the caller's return address untouched.
 */
#if defined(__x86_64__)
        .text
        .globl  dlsym
        .type   dlsym, @function
dlsym:
        .cfi_startproc
        pushq   %rdi
        .cfi_adjust_cfa_offset 8
        pushq   %rsi
        .cfi_adjust_cfa_offset 8
        subq    $8, %rsp                     /* 16-byte alignment for the call */
        .cfi_adjust_cfa_offset 8
        call    gpumem__dlsym_hook
        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %rsi
        .cfi_adjust_cfa_offset -8
        popq    %rdi
        .cfi_adjust_cfa_offset -8
        testq   %rax, %rax
        jnz     1f
        jmp     *gpumem__real_dlsym(%rip)
1:      ret
        .cfi_endproc
        .size   dlsym, .-dlsym
#elif defined(__aarch64__)
        .text
        .globl  dlsym
        .type   dlsym, %function
dlsym:
        .cfi_startproc
        stp     x29, x30, [sp, #-32]!
        .cfi_def_cfa_offset 32
        .cfi_offset 29, -32
        .cfi_offset 30, -24
        mov     x29, sp
        stp     x0, x1, [sp, #16]
        bl      gpumem__dlsym_hook
        cbnz    x0, 1f
        ldp     x0, x1, [sp, #16]
        ldp     x29, x30, [sp], #32
        adrp    x16, gpumem__real_dlsym
        ldr     x16, [x16, #:lo12:gpumem__real_dlsym]
        br      x16
1:      ldp     x29, x30, [sp], #32
        ret
        .cfi_endproc
        .size   dlsym, .-dlsym
#else
#error "gpumem: dlsym trampoline written for x86_64 and aarch64 only"
#endif
        .section .note.GNU-stack,"",%progbits
