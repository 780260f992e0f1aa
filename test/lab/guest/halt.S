# Boot sector of the lab's no-OS tenants: halts the CPU for good, interrupts off, so it ignores
# an ACPI power button as a guest without an OS does. Without it SeaBIOS finds nothing to boot
# and polls for one, which under nested TCG cost each tenant about a tenth of a lab vCPU.
    .code16
    .globl _start
_start:
    cli
1:  hlt
    jmp 1b
    .org 510
    .byte 0x55, 0xaa
