// fiber.h: the context switch under driver.cpp's fibers (the CUDA threads
// of a block). On x86-64 it is a few instructions that keep what the SysV
// ABI has a callee keep: rbx, rbp, r12-r15, the stack pointer, MXCSR and
// the x87 control word. glibc's swapcontext also saves the signal mask, a
// system call at every switch, which made it most of the emulator's time.
// Elsewhere, and under AddressSanitizer (which follows swapcontext, not a
// bare stack switch), it is ucontext.
#pragma once
#include <cstddef>
#include <cstdint>

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)

struct FiberContext {
    void *sp;
};

extern "C" void emu_fiber_switch(void **save, void *resume);
asm(R"(
    .text
    .p2align 4
    .type emu_fiber_switch, @function
emu_fiber_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_fiber_switch, .-emu_fiber_switch
)");

// fiber_make readies c to run entry, which must never return, on the stack
// [stack, stack+size): the frame emu_fiber_switch pops, entry as its return
// address, and below entry's own return slot the alignment a call leaves.
inline void fiber_make(FiberContext &c, unsigned char *stack, size_t size, void (*entry)())
{
    auto top = reinterpret_cast<uintptr_t>(stack + size) & ~uintptr_t(15);
    auto *frame = reinterpret_cast<uint64_t *>(top) - 9;
    frame[0] = 0x1f80 | uint64_t(0x037f) << 32; // MXCSR and x87 control word as at process start
    for (int i = 1; i <= 6; i++) {
        frame[i] = 0; // r15, r14, r13, r12, rbx, rbp
    }
    frame[7] = reinterpret_cast<uint64_t>(entry);
    frame[8] = 0; // entry's return address: it never returns
    c.sp = frame;
}

inline void fiber_switch(FiberContext &save, FiberContext &resume) { emu_fiber_switch(&save.sp, resume.sp); }

#else

#include <cstdio>
#include <cstdlib>
#include <ucontext.h>

struct FiberContext {
    ucontext_t uc;
};

inline void fiber_make(FiberContext &c, unsigned char *stack, size_t size, void (*entry)())
{
    if (getcontext(&c.uc) != 0) {
        perror("cuda-emu: getcontext");
        abort();
    }
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = size;
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, entry, 0);
}

inline void fiber_switch(FiberContext &save, FiberContext &resume) { swapcontext(&save.uc, &resume.uc); }

#endif
