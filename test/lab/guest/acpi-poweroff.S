# Boot sector of a lab tenant that powers off when it sees an ACPI power-button press, as
# `virsh shutdown` sends one: enough of a guest OS for graceful-shutdown tests, and it
# boots in SeaBIOS time instead of a nested kernel's. i440fx/PIIX4 ('pc' machine) only.
# It sleeps on hlt until the press raises the SCI (IRQ 9): the PIT is stopped, since its 18
# ticks a second cost the idle tenant about a twentieth of a lab vCPU under nested TCG.
    .code16
    .globl _start
_start:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %ss
    movw $0x7c00, %sp
    movw $hello, %si
    call puts
    # stop the PIT: channel 0 in mode 0 (one terminal count, no reload); qemu's timer for it
    # fires once more and then never again
    movb $0x30, %al
    outb %al, $0x43
    xorb %al, %al
    outb %al, $0x40
    outb %al, $0x40
    # the SCI (IRQ 9: slave PIC line 1, vector 0x71) comes to our own handler, which masks it:
    # it is level-triggered, and it stays raised until the power-off
    movw $sci, 0x71*4
    movw $0, 0x71*4+2
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
    # PM1_CNT (base+4): SCI_EN, the press is an SCI rather than an SMI
    leaw 4(%bp), %dx
    movw $0x0001, %ax
    outw %ax, %dx
    # unmask IRQ 9 on the slave PIC and the cascade (IRQ 2) on the master
    inb $0xa1, %al
    andb $0xfd, %al
    outb %al, $0xa1
    inb $0x21, %al
    andb $0xfb, %al
    outb %al, $0x21
    sti
wait:
    # woken by the SCI (or by the PIT's last tick): look at PM1_STS
    hlt
    movw %bp, %dx
    inw %dx, %ax
    testw $0x0100, %ax
    jz wait
    cli
    movw $bye, %si
    call puts
    # PM1_CNT (base+4): SLP_EN with SLP_TYP 0, which qemu's PIIX4 takes as soft off (S5)
    leaw 4(%bp), %dx
    movw $0x2000, %ax
    outw %ax, %dx
halt:
    hlt
    jmp halt
# the SCI: mask IRQ 9 and acknowledge it on both PICs
sci:
    pushw %ax
    inb $0xa1, %al
    orb $0x02, %al
    outb %al, $0xa1
    movb $0x20, %al
    outb %al, $0xa0
    outb %al, $0x20
    popw %ax
    iret
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
