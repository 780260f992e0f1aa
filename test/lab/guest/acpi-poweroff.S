# Boot sector of a lab tenant that powers off when it sees an ACPI power-button press, as
# `virsh shutdown` sends one: enough of a guest OS for graceful-shutdown tests, and it
# boots in SeaBIOS time instead of a nested kernel's. i440fx/PIIX4 ('pc' machine) only.
    .code16
    .globl _start
_start:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %ss
    movw $0x7c00, %sp
    sti
    movw $hello, %si
    call puts
    # PIIX4 power management function is PCI 00:01.3; its I/O base (PMBA) is at 0x40
    movl $0x80000b40, %eax
    movw $0xcf8, %dx
    outl %eax, %dx
    movw $0xcfc, %dx
    inl %dx, %eax
    andw $0xffc0, %ax
    movw %ax, %bp
    # PM1_EN (base+2): power-button enable, or qemu never latches the press in PM1_STS
    leaw 2(%bp), %dx
    movw $0x0100, %ax
    outw %ax, %dx
wait:
    # the BIOS timer tick wakes hlt 18 times a second: polling costs next to nothing
    hlt
    movw %bp, %dx
    inw %dx, %ax
    testw $0x0100, %ax
    jz wait
    movw $bye, %si
    call puts
    # PM1_CNT (base+4): SLP_EN with SLP_TYP 0, which qemu's PIIX4 takes as soft off (S5)
    leaw 4(%bp), %dx
    movw $0x2000, %ax
    outw %ax, %dx
halt:
    hlt
    jmp halt
# write a NUL-terminated string to COM1 (the tenant's serial log, if it has one)
puts:
    lodsb
    testb %al, %al
    jz 1f
    movw $0x3f8, %dx
    outb %al, %dx
    jmp puts
1:  ret
hello:
    .asciz "sanshift-lab tenant: waiting for the ACPI power button\r\n"
bye:
    .asciz "sanshift-lab tenant: power button pressed, powering off\r\n"
    .org 510
    .byte 0x55, 0xaa
