import type { TargetConfig } from '../../../shared/targets';
import type { Logger } from '../../logger';
import type { Destination } from './Destination';

/**
 * The destination for a target config. Client libraries load on first use: the S3 and Azure
 * SDKs alone take longer to import than the rest of the core takes to start.
 */
export async function createDestination(config: TargetConfig, logger: Logger): Promise<Destination> {
  switch (config.kind) {
    case 'local':
      return new (await import('./LocalDestination')).LocalDestination(config);
    case 'ftp':
      return new (await import('./FtpDestination')).FtpDestination(config);
    case 'sftp':
      return new (await import('./SftpDestination')).SftpDestination(config, logger);
    case 's3':
      return new (await import('./S3Destination')).S3Destination(config);
    case 'azure':
      return new (await import('./AzureDestination')).AzureDestination(config);
  }
}
