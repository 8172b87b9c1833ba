# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # Mirrors module_utils/compute/common.py BLOCK_DEVICE_ARG_SPEC.
    DOCUMENTATION = r"""
options:
  base_pool_path:
    description: Directory of the C(stratus-base) storage pool, which caches one copy of each image.
    type: path
    default: /var/lib/libvirt/stratus/base
  instance_pool_path:
    description:
      - Directory of the C(stratus-instances) storage pool, which holds per-instance disks (root overlay,
        ephemeral, swap, config drive).
      - Volumes (C(destination_type=volume)), which outlive their server unless C(delete_on_termination),
        live in the C(stratus-volumes) pool, the directory C(volumes) beside this one.
    type: path
    default: /var/lib/libvirt/stratus/instances
  uploads:
    description:
      - Image id to a path on the hypervisor where the action plugin uploaded that image; moved into the base pool.
    type: dict
    default: {}
  image_checksums:
    description:
      - Image id to the sha256 of that image on the controller. An image of the base pool whose
        checksum differs, or that is missing and not in I(uploads), is listed in RV(images_needed)
        and the module does nothing else; the action plugin then uploads those images and calls again.
      - Checksums of base images are kept in C(.base-sha256.json) beside the base pool directory,
        keyed on size, inode and modification time, so an unchanged image is not read again.
    type: dict
    default: {}
  secrets:
    description:
      - The secrets of the plans in I(instances), by instance uuid, which the config drive needs
        (C(admin_pass), base64 C(user_data), and C(files), the injected files as C(path) and base64 C(contents)).
      - The action plugin moves them out of each plan into this option, which Ansible never logs, so
        that they stay out of the C(Invoked with) line Ansible writes to the hypervisor's system log
        and out of the module's result. A plan names in C(config_drive.secrets) the parts it lacks;
        a config drive is not built without them.
    type: dict
    default: {}
"""
