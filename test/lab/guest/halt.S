# Boot sector of the lab's no-OS tenants: halts the CPU for good, interrupts off, so it ignores
# an ACPI power button as a guest without an OS does. Without it SeaBIOS finds nothing to boot
# and polls for one, which under nested TCG cost each tenant about a tenth of a lab vCPU.
# It also stops the PIT: left in the periodic mode SeaBIOS set, qemu's timer for it woke the
# tenant's qemu 18 times a second for nothing (the interrupt is masked), 3-4% of a lab vCPU
# per idle tenant under nested TCG.
    .code16
    .globl _start
_start:
    cli
    # channel 0, low then high byte, mode 0 (one terminal count, no reload), count 0 (65536):
    # qemu arms its timer once more and then never again
    movb $0x30, %al
    outb %al, $0x43
    xorb %al, %al
    outb %al, $0x40
    outb %al, $0x40
1:  hlt
    jmp 1b
    .org 510
    .byte 0x55, 0xaa
